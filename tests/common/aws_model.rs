//! The realistic AWS profile of the fault proxy: what AWS documents that it does and the
//! emulators (instant, consistent) do not, with every duration multiplied by `scale` (1.0 = real
//! AWS, for the benchmark; tests use 0.02-0.05). Modeled, per proxy instance:
//!
//! - **Visibility** (eventual consistency). The ids a creating call returns that the request did
//!   not name and no earlier answer showed (EC2 `Create*`/`Allocate*`/`RunInstances`; ELB load
//!   balancer, target group and listener ARNs; EFS file systems and mount targets; IAM role and
//!   instance profile names; S3 buckets; ECR repositories; Auto Scaling groups; key pair names and
//!   `key-` ids; launch template ids and names) are new. The first later request that names a new
//!   id gets that id's not-found error in its protocol's shape, once, however late it comes (the
//!   worst case); an Auto Scaling describe gets an empty list, as AWS answers for unknown names.
//!   A read that names a new id only in filter values within `visibility_window` of its creation
//!   gets an empty result set and does not use up the first use.
//! - **State timelines.** NAT gateways `pending` ~90 s and `deleting` ~60 s; instances `pending`
//!   ~25 s and `shutting-down` ~45 s; load balancers `provisioning` ~3 min and their network
//!   interfaces lingering ~2 min after the delete (shown to `DescribeNetworkInterfaces` by
//!   description, as AWS names them: `ELB app/<name>/<id>`); EFS file systems `creating` ~8 s and
//!   `deleting` ~10 s, mount targets `creating` ~90 s and `deleting` ~60 s; an instance profile
//!   usable by EC2 ~10 s after its role was added; images `pending` ~4 min (made from an
//!   instance, CreateImage), snapshots `pending` ~1 min (with their `progress`), volumes
//!   `creating` ~5 s; ECS services deploying ~75 s (no task running, the deployment
//!   `IN_PROGRESS`), then, deleted, `DRAINING` ~30 s while their tasks stop, and their tasks'
//!   network interfaces in the subnets and security groups ~60 s more. Describe answers are rewritten (XML with
//!   quick-xml, JSON with serde_json); an item rewritten out of a request's state filter is
//!   dropped. Deletes the emulators apply at once (`DeleteNatGateway`, `TerminateInstances`,
//!   `DeleteMountTarget`, `DeleteFileSystem`) are answered here with a well-formed success and
//!   forwarded when the window ends, so the emulator keeps the resource meanwhile;
//!   `DeleteLoadBalancer` is forwarded at once (the load balancer leaves the describes at once on
//!   AWS too; its interfaces stay).
//! - **ECS** new cluster and service ARNs: the first use fails once (`ClusterNotFoundException`,
//!   `ServiceNotFoundException`), and a describe answers as ECS does for what it does not know
//!   yet: no item and a `MISSING` failure. `DeleteCluster` is refused
//!   (`ClusterContainsServicesException`) while a service of the cluster is active or draining.
//! - **Dependencies** while a resource is not gone: a NAT gateway holds its subnet
//!   (`DependencyViolation`), its Elastic IP (`InvalidIPAddress.InUse`, sometimes `AuthFailure`)
//!   and, as mapped public addresses, its VPC's internet gateway; an instance holds its subnet and
//!   security groups (and the gateway if it has a public address); a load balancer, until its
//!   interfaces are released, its subnets, security groups and (internet-facing) the gateway; a
//!   mount target its subnet, security groups and file system (`FileSystemInUse`); a file system
//!   not yet available refuses mount targets (`IncorrectFileSystemLifeCycleState`); `RunInstances`
//!   with an instance profile not yet propagated gets `InvalidParameterValue`.
//! - **Throttling**: EC2's request token buckets, per API action (non-mutating 100/20 per s;
//!   unfiltered and unpaginated `DescribeInstances`, `DescribeSecurityGroups`, ... 50/10;
//!   mutating 50/5; resource-intensive 50/5; the uncategorized actions with their own figures,
//!   e.g. `CreateNatGateway` 10/1, `RunInstances` 5/2, `CreateTags` 100/10) and the resource
//!   buckets of `RunInstances` (1000/2 instances) and `TerminateInstances` (1000/20). An empty
//!   bucket answers 503 `RequestLimitExceeded`. Refill rates are real, not scaled.
//!
//! Everything that happens is recorded ([`ModelReport`]): per resource its kind, id, parents,
//! create request, ready time, delete request and gone time, and the counts of what was injected;
//! [`critical_path`] turns that record into the lower bound a benchmark compares wall time with.
//!
//! Sources (AWS documentation titles): "Eventual consistency in the Amazon EC2 API"; "Request
//! throttling for the Amazon EC2 API" (request and resource token bucket tables); EC2 API
//! Reference "NatGateway" (states), "Error codes for the Amazon EC2 API"; Elastic Load Balancing
//! API Reference "LoadBalancerState" and "Delete an Application Load Balancer"; Amazon EFS
//! "Understanding file system status", API Reference "CreateMountTarget", "DeleteMountTarget",
//! "DeleteFileSystem" (`deleting`, `FileSystemInUse` 409, `FileSystemNotFound` 404); IAM API
//! Reference "AddRoleToInstanceProfile" (eventual consistency) and IAM User Guide "Troubleshoot
//! IAM" (changes not immediately visible); Amazon S3 "NoSuchBucket"; the measured timings in
//! `shared/EMULATORS.md` (NAT ~1.5-2 min / ~1 min, ALB ~3 min, mount target 1-2 min); Amazon
//! ECS API Reference "DescribeServices" (`failures`, `MISSING`), "DeleteService" (`DRAINING`,
//! then `INACTIVE` once its tasks have stopped), "DeleteCluster"
//! (`ClusterContainsServicesException`) and the ECS Developer Guide "Fargate task networking"
//! (a task's elastic network interface is deleted after the task stops).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::Value;

use super::proxy::{Call, Fault};

// ---------------------------------------------------------------------------------------------
// Configuration

/// Real AWS durations (multiplied by [`AwsModel::scale`] when applied).
#[derive(Debug, Clone)]
pub struct Timings {
    /// How long after its creation a new id may be missing from filtered describes.
    pub visibility_window: Duration,
    pub nat_pending: Duration,
    pub nat_deleting: Duration,
    pub instance_pending: Duration,
    pub instance_shutting_down: Duration,
    pub lb_provisioning: Duration,
    /// How long a deleted load balancer's network interfaces stay in its subnets.
    pub lb_eni_linger: Duration,
    pub fs_creating: Duration,
    pub fs_deleting: Duration,
    pub mt_creating: Duration,
    pub mt_deleting: Duration,
    /// From the role's addition to an instance profile until EC2 accepts the profile.
    pub profile_propagation: Duration,
    /// An image made from an instance, `pending` until its snapshots are taken.
    pub image_pending: Duration,
    pub snapshot_pending: Duration,
    pub volume_creating: Duration,
    /// An ECS service from its creation until its tasks run and its deployment completes.
    pub ecs_service_deploying: Duration,
    /// A deleted ECS service `DRAINING` while its tasks stop.
    pub ecs_service_draining: Duration,
    /// How long a stopped Fargate task's network interface stays in its subnet after that.
    pub ecs_task_eni_linger: Duration,
}

impl Timings {
    /// What AWS documents or was measured (see the module header).
    pub fn aws() -> Timings {
        let s = Duration::from_secs;
        Timings {
            visibility_window: s(5),
            nat_pending: s(90),
            nat_deleting: s(60),
            instance_pending: s(25),
            instance_shutting_down: s(45),
            lb_provisioning: s(180),
            lb_eni_linger: s(120),
            fs_creating: s(8),
            fs_deleting: s(10),
            mt_creating: s(90),
            mt_deleting: s(60),
            profile_propagation: s(10),
            image_pending: s(240),
            snapshot_pending: s(60),
            volume_creating: s(5),
            ecs_service_deploying: s(75),
            ecs_service_draining: s(30),
            ecs_task_eni_linger: s(60),
        }
    }
}

/// The realistic profile: `Faults { aws: Some(AwsModel::new(scale, seed)), .. }`.
#[derive(Debug, Clone)]
pub struct AwsModel {
    /// Multiplies every duration of [`Timings`] (1.0 = real AWS).
    pub scale: f64,
    /// Seeds the few choices the model makes (which error a refused `ReleaseAddress` gets).
    pub seed: u64,
    pub timings: Timings,
    /// EC2's token buckets (on by default).
    pub throttling: bool,
}

impl AwsModel {
    pub fn new(scale: f64, seed: u64) -> AwsModel {
        AwsModel {
            scale,
            seed,
            timings: Timings::aws(),
            throttling: true,
        }
    }

    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale.max(0.0))
    }
}

// ---------------------------------------------------------------------------------------------
// Kinds of ids

/// What a modeled id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Vpc,
    Subnet,
    InternetGateway,
    RouteTable,
    ElasticIp,
    NatGateway,
    NetworkAcl,
    SecurityGroup,
    Instance,
    LaunchTemplate,
    KeyPair,
    VpcEndpoint,
    FileSystem,
    MountTarget,
    LoadBalancer,
    TargetGroup,
    Listener,
    Role,
    InstanceProfile,
    Bucket,
    Repository,
    AutoScalingGroup,
    Image,
    Snapshot,
    Volume,
    EcsCluster,
    EcsService,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::Subnet => "subnet",
            Kind::InternetGateway => "internet_gateway",
            Kind::RouteTable => "route_table",
            Kind::ElasticIp => "elastic_ip",
            Kind::NatGateway => "nat_gateway",
            Kind::NetworkAcl => "network_acl",
            Kind::SecurityGroup => "security_group",
            Kind::Instance => "instance",
            Kind::LaunchTemplate => "launch_template",
            Kind::KeyPair => "key_pair",
            Kind::VpcEndpoint => "vpc_endpoint",
            Kind::FileSystem => "efs_file_system",
            Kind::MountTarget => "efs_mount_target",
            Kind::LoadBalancer => "load_balancer",
            Kind::TargetGroup => "target_group",
            Kind::Listener => "listener",
            Kind::Role => "iam_role",
            Kind::InstanceProfile => "instance_profile",
            Kind::Bucket => "s3_bucket",
            Kind::Repository => "ecr_repository",
            Kind::AutoScalingGroup => "auto_scaling_group",
            Kind::Image => "ami",
            Kind::Snapshot => "ebs_snapshot",
            Kind::Volume => "ebs_volume",
            Kind::EcsCluster => "ecs_cluster",
            Kind::EcsService => "ecs_service",
        }
    }
}

/// EC2 and EFS id prefixes (`fsmt-` and `fs-` differ at the third letter).
const PREFIXES: [(&str, Kind); 17] = [
    // Before `vpc-`, which `vpce-` would not match anyway (`e` is not `-`).
    ("vpce-", Kind::VpcEndpoint),
    ("vpc-", Kind::Vpc),
    ("subnet-", Kind::Subnet),
    ("igw-", Kind::InternetGateway),
    ("rtb-", Kind::RouteTable),
    ("eipalloc-", Kind::ElasticIp),
    ("nat-", Kind::NatGateway),
    ("acl-", Kind::NetworkAcl),
    ("sg-", Kind::SecurityGroup),
    ("i-", Kind::Instance),
    ("lt-", Kind::LaunchTemplate),
    ("key-", Kind::KeyPair),
    ("fsmt-", Kind::MountTarget),
    ("fs-", Kind::FileSystem),
    ("ami-", Kind::Image),
    ("snap-", Kind::Snapshot),
    ("vol-", Kind::Volume),
];

const ELB_ARN: &str = "arn:aws:elasticloadbalancing:";
const ECS_ARN: &str = "arn:aws:ecs:";

fn id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Every EC2/EFS id (`vpc-0a1b2c3d`, 8 or more hex digits, standing alone), every ELB load
/// balancer, target group and listener ARN and every ECS cluster and service ARN in `text`.
pub fn scan_ids(text: &str) -> Vec<(String, Kind)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    'outer: while i < b.len() {
        if (i == 0 || !id_char(b[i - 1])) && b[i].is_ascii_lowercase() {
            for (prefix, kind) in PREFIXES {
                if b[i..].starts_with(prefix.as_bytes()) {
                    let start = i + prefix.len();
                    let mut end = start;
                    while end < b.len()
                        && (b[end].is_ascii_digit() || (b'a'..=b'f').contains(&b[end]))
                    {
                        end += 1;
                    }
                    if end - start >= 8 && (end == b.len() || !id_char(b[end])) {
                        out.push((text[i..end].to_owned(), kind));
                        i = end;
                        continue 'outer;
                    }
                }
            }
        }
        i += 1;
    }
    let mut from = 0;
    while let Some(at) = text[from..].find(ELB_ARN) {
        let start = from + at;
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || ":/_.-".contains(c)))
            .map_or(text.len(), |e| start + e);
        let arn = &text[start..end];
        let kind = if arn.contains(":loadbalancer/") {
            Some(Kind::LoadBalancer)
        } else if arn.contains(":targetgroup/") {
            Some(Kind::TargetGroup)
        } else if arn.contains(":listener/") {
            Some(Kind::Listener)
        } else {
            None
        };
        if let Some(kind) = kind {
            out.push((arn.to_owned(), kind));
        }
        from = end.max(start + 1);
    }
    let mut from = 0;
    while let Some(at) = text[from..].find(ECS_ARN) {
        let start = from + at;
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || ":/_.-".contains(c)))
            .map_or(text.len(), |e| start + e);
        let arn = &text[start..end];
        let kind = if arn.contains(":cluster/") {
            Some(Kind::EcsCluster)
        } else if arn.contains(":service/") {
            Some(Kind::EcsService)
        } else {
            None
        };
        if let Some(kind) = kind {
            out.push((arn.to_owned(), kind));
        }
        from = end.max(start + 1);
    }
    out
}

/// The key a name-identified resource is tracked under (names of different kinds may collide).
fn name_key(kind: Kind, name: &str) -> String {
    format!("{}:{name}", kind.as_str())
}

// ---------------------------------------------------------------------------------------------
// Requests

/// One value of a request: a form pair, a query pair, a JSON string, a path segment.
#[derive(Debug, Clone)]
pub(super) struct Param {
    /// The key without list indexes and `member` (`Filter.1.Value.2` -> `Filter.Value`).
    key: String,
    value: String,
    /// A filter value (`Filter.N.Value.M`, `Filters.member.N.Values.member.M`).
    filter: bool,
}

impl Param {
    fn last(&self) -> &str {
        self.key.rsplit('.').next().unwrap_or_default()
    }
}

/// A request as the model reads it.
#[derive(Debug, Clone, Default)]
pub(super) struct Req {
    service: String,
    action: String,
    method: String,
    path: Vec<String>,
    query_empty: bool,
    params: Vec<Param>,
    /// EC2 filters by name.
    filters: Vec<(String, Vec<String>)>,
    /// Filtered or paginated (EC2's larger bucket for some describes).
    filtered_or_paginated: bool,
    read: bool,
}

impl Req {
    pub(super) fn parse(call: &Call) -> Req {
        let (path, query) = call
            .target
            .split_once('?')
            .unwrap_or((call.target.as_str(), ""));
        let path: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(pct_decode)
            .collect();
        let mut params = Vec::new();
        let mut raw_pairs = Vec::new();
        for (k, v) in form_pairs(query) {
            raw_pairs.push((k.clone(), v.clone()));
        }
        let body = String::from_utf8_lossy(&call.body);
        if call.service == "s3" {
            // Object bodies are data, not names: only the path and the query count.
        } else if call.json {
            if let Ok(v) = serde_json::from_str::<Value>(&body) {
                json_params(&v, "", &mut params);
            }
        } else {
            for (k, v) in form_pairs(&body) {
                if k != "Action" && k != "Version" {
                    raw_pairs.push((k, v));
                }
            }
        }
        let mut filters: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        let mut filtered_or_paginated = false;
        for (k, v) in &raw_pairs {
            let parts: Vec<&str> = k.split('.').collect();
            if parts.first() == Some(&"Filter") && parts.len() >= 3 {
                filtered_or_paginated = true;
                let entry = filters.entry(parts[1].to_owned()).or_default();
                if parts[2] == "Name" {
                    entry.0 = v.clone();
                } else if parts[2] == "Value" {
                    entry.1.push(v.clone());
                }
            }
            if k == "MaxResults" || k == "NextToken" {
                filtered_or_paginated = true;
            }
            let key = normalize_key(k);
            let filter = key == "Filter.Value" || key == "Filters.Values";
            // Tag keys and values are the user's words, not ids.
            if key.ends_with("Tag.Value") || key.ends_with("Tag.Key") || key.ends_with("Tags.Value")
            {
                continue;
            }
            params.push(Param {
                key,
                value: v.clone(),
                filter,
            });
        }
        for (i, seg) in path.iter().enumerate() {
            params.push(Param {
                key: format!("@path{i}"),
                value: seg.clone(),
                filter: false,
            });
        }
        Req {
            service: call.service.clone(),
            action: call.action.clone(),
            method: call.method.clone(),
            path,
            query_empty: query.is_empty(),
            params,
            filters: filters.into_values().collect(),
            filtered_or_paginated,
            read: call.read,
        }
    }

    /// The first value whose key ends in `last`.
    pub(super) fn get(&self, last: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| !p.filter && p.last() == last)
            .map(|p| p.value.as_str())
    }

    /// Every value whose key ends in `last`.
    fn all(&self, last: &str) -> Vec<String> {
        self.params
            .iter()
            .filter(|p| !p.filter && p.last() == last)
            .map(|p| p.value.clone())
            .collect()
    }

    pub(super) fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        self.filters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Every value of the request (for "did the request name it").
    fn text(&self) -> String {
        self.params
            .iter()
            .map(|p| p.value.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn rest(&self, method: &str, parts: &[&str]) -> bool {
        self.method == method
            && self.path.len() == parts.len()
            && self
                .path
                .iter()
                .zip(parts)
                .all(|(a, b)| *b == "*" || a == b)
    }

    /// The ids and names the request uses: (tracking key, kind, by name, only in filters).
    fn named(&self) -> Vec<(String, Kind, bool, bool)> {
        let mut out: Vec<(String, Kind, bool, bool)> = Vec::new();
        for p in &self.params {
            for (tok, kind) in scan_ids(&p.value) {
                out.push((tok, kind, false, p.filter));
            }
            if p.filter {
                continue;
            }
            let by_name: Option<Kind> = match (self.service.as_str(), p.last()) {
                ("iam", "RoleName") => Some(Kind::Role),
                ("iam", "InstanceProfileName") => Some(Kind::InstanceProfile),
                (
                    "autoscaling",
                    "AutoScalingGroupName" | "AutoScalingGroupNames" | "ResourceId",
                ) => Some(Kind::AutoScalingGroup),
                ("ec2", "KeyName") => Some(Kind::KeyPair),
                ("ec2" | "autoscaling", "LaunchTemplateName") => Some(Kind::LaunchTemplate),
                ("ecr", "repositoryName" | "repositoryNames") => Some(Kind::Repository),
                ("s3", "@path0") => Some(Kind::Bucket),
                _ => None,
            };
            if let Some(kind) = by_name {
                out.push((name_key(kind, &p.value), kind, true, false));
            }
            // The instance profile of an instance or a launch template, by name or ARN.
            if self.service == "ec2"
                && (p.key.ends_with("IamInstanceProfile.Name")
                    || p.key.ends_with("IamInstanceProfile.Arn"))
            {
                let name = p.value.rsplit('/').next().unwrap_or_default();
                out.push((
                    name_key(Kind::InstanceProfile, name),
                    Kind::InstanceProfile,
                    true,
                    false,
                ));
            }
        }
        let mut seen = HashSet::new();
        out.retain(|(k, _, _, filter)| seen.insert((k.clone(), *filter)));
        // A name used outside filters is a use even if a filter names it too.
        let plain: HashSet<String> = out
            .iter()
            .filter(|(_, _, _, f)| !f)
            .map(|(k, ..)| k.clone())
            .collect();
        out.retain(|(k, _, _, f)| !*f || !plain.contains(k));
        out
    }
}

fn normalize_key(k: &str) -> String {
    k.split('.')
        .filter(|s| !s.is_empty() && *s != "member" && !s.bytes().all(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(".")
}

fn json_params(v: &Value, key: &str, out: &mut Vec<Param>) {
    match v {
        Value::String(s) => out.push(Param {
            key: key.to_owned(),
            value: s.clone(),
            filter: false,
        }),
        Value::Array(a) => a.iter().for_each(|x| json_params(x, key, out)),
        Value::Object(o) => {
            for (k, x) in o {
                // Tags are the user's words.
                if k != "Tags" && k != "tags" {
                    json_params(x, k, out);
                }
            }
        }
        _ => {}
    }
}

pub(super) fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(c) => {
                        out.push(c);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// HTTP responses

/// A response from the emulator, its body de-chunked.
pub(super) struct HttpResponse {
    pub(super) status: u16,
    /// The status line and the headers, without framing headers.
    lines: Vec<String>,
    pub(super) body: Vec<u8>,
}

impl HttpResponse {
    pub(super) fn parse(raw: &[u8]) -> Option<HttpResponse> {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines: Vec<String> = Vec::new();
        let mut chunked = false;
        for (i, line) in head.split("\r\n").enumerate() {
            let lower = line.to_ascii_lowercase();
            if i > 0 {
                if lower.starts_with("content-encoding:") && !lower.contains("identity") {
                    // A compressed body is not rewritten.
                    return None;
                }
                if lower.starts_with("transfer-encoding:") {
                    chunked = lower.contains("chunked");
                    continue;
                }
                if lower.starts_with("content-length:") || lower.starts_with("connection:") {
                    continue;
                }
            }
            lines.push(line.to_owned());
        }
        let status = lines.first()?.split_whitespace().nth(1)?.parse().ok()?;
        let rest = &raw[end + 4..];
        let body = if chunked {
            dechunk(rest)?
        } else {
            rest.to_vec()
        };
        Some(HttpResponse {
            status,
            lines,
            body,
        })
    }

    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 256);
        for line in &self.lines {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                self.body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&self.body);
        out
    }
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// A well-formed response the model answers itself.
pub(super) fn http(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        _ => "Modeled",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nx-amzn-RequestId: aws-model\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// A small XML tree that writes back what it read (text kept escaped, as it came)

#[derive(Debug, Clone)]
pub(super) enum Node {
    El(El),
    /// Text, entity and character references, CDATA, comments, declarations: as they came.
    Raw(String),
}

#[derive(Debug, Clone)]
pub(super) struct El {
    pub(super) name: String,
    /// What stood between `<` and `>`: the name and the attributes.
    head: String,
    pub(super) children: Vec<Node>,
    empty: bool,
}

impl El {
    pub(super) fn new(name: &str, children: Vec<Node>) -> El {
        El {
            name: name.to_owned(),
            head: name.to_owned(),
            children,
            empty: false,
        }
    }

    pub(super) fn leaf(name: &str, text: &str) -> Node {
        Node::El(El::new(name, vec![Node::Raw(xml_escape(text))]))
    }

    pub(super) fn elements(&self) -> impl Iterator<Item = &El> {
        self.children.iter().filter_map(|n| match n {
            Node::El(e) => Some(e),
            Node::Raw(_) => None,
        })
    }

    fn elements_mut(&mut self) -> impl Iterator<Item = &mut El> {
        self.children.iter_mut().filter_map(|n| match n {
            Node::El(e) => Some(e),
            Node::Raw(_) => None,
        })
    }

    pub(super) fn child(&self, name: &str) -> Option<&El> {
        self.elements().find(|e| e.name == name)
    }

    pub(super) fn child_mut(&mut self, name: &str) -> Option<&mut El> {
        self.elements_mut().find(|e| e.name == name)
    }

    fn text(&self) -> String {
        self.children
            .iter()
            .map(|n| match n {
                Node::Raw(t) => t.as_str(),
                Node::El(_) => "",
            })
            .collect::<String>()
            .trim()
            .to_owned()
    }

    pub(super) fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(El::text)
    }

    pub(super) fn set_text(&mut self, text: &str) {
        self.children = vec![Node::Raw(xml_escape(text))];
        self.empty = false;
    }

    fn clear(&mut self) {
        self.children.clear();
    }

    /// Visits this element and every element below it, parents first.
    pub(super) fn walk_mut(&mut self, f: &mut dyn FnMut(&mut El)) {
        f(self);
        for c in self.elements_mut() {
            c.walk_mut(f);
        }
    }

    fn walk(&self, f: &mut dyn FnMut(&El)) {
        f(self);
        for c in self.elements() {
            c.walk(f);
        }
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.head);
        if self.empty && self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            match c {
                Node::El(e) => e.write(out),
                Node::Raw(t) => out.push_str(t),
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An XML document: what precedes the root (declaration, whitespace), the root, what follows.
pub(super) struct Doc {
    before: Vec<Node>,
    pub(super) root: El,
    after: Vec<Node>,
}

impl Doc {
    pub(super) fn parse(text: &str) -> Option<Doc> {
        let mut reader = Reader::from_str(text);
        let mut stack: Vec<El> = Vec::new();
        let mut top: Vec<Node> = Vec::new();
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        fn push(stack: &mut [El], top: &mut Vec<Node>, n: Node) {
            match stack.last_mut() {
                Some(p) => p.children.push(n),
                None => top.push(n),
            }
        }
        loop {
            match reader.read_event().ok()? {
                Event::Start(e) => stack.push(El {
                    name: lossy(e.name().as_ref()),
                    head: lossy(&e),
                    children: Vec::new(),
                    empty: false,
                }),
                Event::Empty(e) => {
                    let el = El {
                        name: lossy(e.name().as_ref()),
                        head: lossy(&e).trim_end().to_owned(),
                        children: Vec::new(),
                        empty: true,
                    };
                    push(&mut stack, &mut top, Node::El(el));
                }
                Event::End(_) => {
                    let el = stack.pop()?;
                    push(&mut stack, &mut top, Node::El(el));
                }
                Event::Text(t) => push(&mut stack, &mut top, Node::Raw(lossy(&t))),
                Event::GeneralRef(r) => {
                    push(&mut stack, &mut top, Node::Raw(format!("&{};", lossy(&r))));
                }
                Event::CData(c) => push(
                    &mut stack,
                    &mut top,
                    Node::Raw(format!("<![CDATA[{}]]>", lossy(&c))),
                ),
                Event::Comment(c) => {
                    push(
                        &mut stack,
                        &mut top,
                        Node::Raw(format!("<!--{}-->", lossy(&c))),
                    );
                }
                Event::Decl(d) => push(
                    &mut stack,
                    &mut top,
                    Node::Raw(format!("<?{}?>", lossy(&d))),
                ),
                Event::PI(p) => push(
                    &mut stack,
                    &mut top,
                    Node::Raw(format!("<?{}?>", lossy(&p))),
                ),
                Event::DocType(d) => push(
                    &mut stack,
                    &mut top,
                    Node::Raw(format!("<!DOCTYPE {}>", lossy(&d))),
                ),
                Event::Eof => break,
            }
        }
        if !stack.is_empty() {
            return None;
        }
        let at = top.iter().position(|n| matches!(n, Node::El(_)))?;
        let after = top.split_off(at + 1);
        let Some(Node::El(root)) = top.pop() else {
            return None;
        };
        Some(Doc {
            before: top,
            root,
            after,
        })
    }

    pub(super) fn write(&self) -> String {
        let mut out = String::new();
        for n in &self.before {
            match n {
                Node::Raw(t) => out.push_str(t),
                Node::El(e) => e.write(&mut out),
            }
        }
        self.root.write(&mut out);
        for n in &self.after {
            match n {
                Node::Raw(t) => out.push_str(t),
                Node::El(e) => e.write(&mut out),
            }
        }
        out
    }

    /// Empties the result lists of a describe answer (EC2: the root's sets; query protocols:
    /// the lists inside `<XResult>`), keeping the request id and the paging token.
    fn empty_results(&mut self) {
        let keep = [
            "requestId",
            "nextToken",
            "NextToken",
            "NextMarker",
            "ResponseMetadata",
        ];
        let result_name = self
            .root
            .elements()
            .find(|e| e.name.ends_with("Result"))
            .map(|e| e.name.clone());
        let holder = match result_name {
            Some(n) => match self.root.child_mut(&n) {
                Some(h) => h,
                None => return,
            },
            None => &mut self.root,
        };
        for e in holder.elements_mut() {
            if !keep.contains(&e.name.as_str()) {
                e.clear();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Resources

/// What the model knows of one resource created through the proxy.
#[derive(Debug, Clone)]
struct Res {
    kind: Kind,
    /// The id as AWS shows it (name, id or ARN).
    id: String,
    /// Tracking keys: the id, and a second id or name (key pairs, launch templates).
    keys: Vec<String>,
    /// Tracking keys of the resources (created through the proxy) its create request named.
    parents: Vec<String>,
    /// Resources it holds beyond its parents (the internet gateway of its VPC).
    holds: Vec<String>,
    created_at: Option<Duration>,
    responded_at: Duration,
    /// Modeled time from the create answer (or the role's addition) until ready.
    ready_delay: Duration,
    /// Calls after the create that readiness waits for (the role added to a profile).
    extra_calls: u32,
    /// For an instance profile: when its role was added.
    usable_from: Option<Duration>,
    delete_requested_at: Option<Duration>,
    /// When the delete was answered (then the modeled `gone_delay` runs).
    deleted_at: Option<Duration>,
    gone_delay: Duration,
    subnets: Vec<String>,
    groups: Vec<String>,
    vpc: Option<String>,
    eips: Vec<String>,
    file_system: Option<String>,
    public_ip: bool,
    internet_facing: bool,
    eni_description: Option<String>,
}

impl Res {
    fn new(kind: Kind, id: &str, created_at: Option<Duration>, responded_at: Duration) -> Res {
        Res {
            kind,
            id: id.to_owned(),
            keys: Vec::new(),
            parents: Vec::new(),
            holds: Vec::new(),
            created_at,
            responded_at,
            ready_delay: Duration::ZERO,
            extra_calls: 0,
            usable_from: None,
            delete_requested_at: None,
            deleted_at: None,
            gone_delay: Duration::ZERO,
            subnets: Vec::new(),
            groups: Vec::new(),
            vpc: None,
            eips: Vec::new(),
            file_system: None,
            public_ip: false,
            internet_facing: false,
            eni_description: None,
        }
    }

    fn ready_at(&self) -> Duration {
        self.responded_at.max(self.usable_from.unwrap_or_default()) + self.ready_delay
    }

    fn creating(&self, now: Duration) -> bool {
        self.deleted_at.is_none() && now < self.ready_at()
    }

    fn gone_at(&self) -> Option<Duration> {
        self.deleted_at.map(|d| d + self.gone_delay)
    }

    fn deleting(&self, now: Duration) -> bool {
        self.gone_at().is_some_and(|g| now < g)
    }

    fn gone(&self, now: Duration) -> bool {
        self.gone_at().is_some_and(|g| now >= g)
    }
}

/// A new id and where it belongs.
#[derive(Debug, Clone)]
struct NewId {
    kind: Kind,
    /// Named by name (key pair, launch template name) rather than by id.
    by_name: bool,
    /// The resource's tracking key.
    resource: String,
    created: Duration,
}

/// A delete answered by the model, forwarded to the emulator at `due`.
struct Deferred {
    due: Duration,
    head: Vec<u8>,
    body: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

/// A successful mutating call (not a create) that named tracked resources: a step of `up` or
/// `down` for the critical path.
#[derive(Debug, Clone)]
pub struct StepRecord {
    pub action: String,
    /// Ids of the tracked resources it named.
    pub names: Vec<String>,
    pub at: Duration,
    pub done: Duration,
}

#[derive(Default)]
struct Counters {
    not_found: u64,
    filtered_emptied: u64,
    states_rewritten: u64,
    dependency_refusals: u64,
    propagation_refusals: u64,
    throttles: u64,
    deferred_deletes: u64,
    deferred_failed: u64,
    enis_shown: u64,
    forwarded: u64,
}

struct Inner {
    seen: HashSet<String>,
    new_ids: HashMap<String, NewId>,
    /// New ids whose first use has not come yet.
    fresh: HashSet<String>,
    res: BTreeMap<String, Res>,
    /// Tracking key of every id or name -> the resource's key.
    alias: HashMap<String, String>,
    order: Vec<String>,
    subnet_vpc: HashMap<String, String>,
    igw_vpc: HashMap<String, String>,
    buckets: HashMap<String, Bucket>,
    deferred: Vec<Deferred>,
    steps: Vec<StepRecord>,
    latencies: Vec<Duration>,
    counters: Counters,
    rng: fastrand::Rng,
}

/// What to do with a request.
pub(super) enum Verdict {
    Forward,
    /// Forward, then empty the answer's result lists.
    ForwardEmptied,
    Fail(Fault),
    /// Answer this now (a delete forwarded later).
    Answer(Vec<u8>),
}

/// Writes the answer of a deferred delete from what the model knows.
type Answer = Box<dyn Fn(&Inner) -> Vec<u8>>;

/// The model's state inside a proxy.
pub(super) struct Model {
    cfg: AwsModel,
    start: Instant,
    inner: Mutex<Inner>,
    /// Serializes forwarding the deferred deletes, so no request overtakes a due one.
    flush_gate: tokio::sync::Mutex<()>,
}

fn dependency(message: String) -> Fault {
    Fault {
        status: 400,
        code: "DependencyViolation".to_owned(),
        message,
    }
}

impl Model {
    pub(super) fn new(cfg: AwsModel) -> Model {
        let rng = fastrand::Rng::with_seed(cfg.seed);
        Model {
            cfg,
            start: Instant::now(),
            inner: Mutex::new(Inner {
                seen: HashSet::new(),
                new_ids: HashMap::new(),
                fresh: HashSet::new(),
                res: BTreeMap::new(),
                alias: HashMap::new(),
                order: Vec::new(),
                subnet_vpc: HashMap::new(),
                igw_vpc: HashMap::new(),
                buckets: HashMap::new(),
                deferred: Vec::new(),
                steps: Vec::new(),
                latencies: Vec::new(),
                counters: Counters::default(),
                rng,
            }),
            flush_gate: tokio::sync::Mutex::new(()),
        }
    }

    pub(super) fn scale(&self) -> f64 {
        self.cfg.scale
    }

    /// Time since the proxy started.
    pub(super) fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn scaled(&self, d: Duration) -> Duration {
        self.cfg.scaled(d)
    }

    /// Forwards the deferred deletes that are due (all of them with `all`), in order.
    pub(super) async fn flush(&self, upstream: &str, all: bool) {
        self.flush_due(upstream, all, self.now()).await;
    }

    /// Forwards the deferred deletes due at `now` (all of them with `all`), in order: a call
    /// arriving at `now` sees the emulator as the model says it is then.
    pub(super) async fn flush_due(&self, upstream: &str, all: bool, now: Duration) {
        let _gate = self.flush_gate.lock().await;
        let due: Vec<Deferred> = {
            let mut inner = self.lock();
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut inner.deferred)
                .into_iter()
                .partition(|d| all || d.due <= now);
            inner.deferred = later;
            due
        };
        for d in due {
            let ok = match super::proxy::forward_raw(upstream, &d.head, &d.body).await {
                Ok(raw) => HttpResponse::parse(&raw).is_some_and(|r| r.status < 300),
                Err(_) => false,
            };
            if !ok {
                self.lock().counters.deferred_failed += 1;
            }
        }
    }

    /// Whether deferred deletes are still waiting.
    pub(super) fn pending_deferred(&self) -> usize {
        self.lock().deferred.len()
    }

    /// Asks the emulator itself what a decision needs and the model has not seen: the VPCs of
    /// the subnets of what may hold an internet gateway (MiniStack reports every load balancer
    /// in `vpc-00000001`; subnets made outside the proxy were never shown to it).
    pub(super) async fn prepare(&self, upstream: &str, call: &Call, req: &Req) {
        if req.service != "ec2" || req.action != "DetachInternetGateway" {
            return;
        }
        let unknown: Vec<String> = {
            let inner = self.lock();
            let now = self.now();
            let mut v: Vec<String> = inner
                .res
                .values()
                .filter(|r| !r.gone(now))
                .flat_map(|r| r.subnets.iter())
                .filter(|s| !inner.subnet_vpc.contains_key(*s))
                .cloned()
                .collect();
            v.sort();
            v.dedup();
            v
        };
        if unknown.is_empty() {
            return;
        }
        let mut body = "Action=DescribeSubnets&Version=2016-11-15".to_owned();
        for (i, s) in unknown.iter().enumerate() {
            body.push_str(&format!("&SubnetId.{}={s}", i + 1));
        }
        let head = with_length(&call.head, body.len());
        let Ok(raw) = super::proxy::forward_raw(upstream, &head, body.as_bytes()).await else {
            return;
        };
        let Some(doc) = HttpResponse::parse(&raw)
            .filter(|r| r.status < 300)
            .and_then(|r| Doc::parse(&String::from_utf8_lossy(&r.body)))
        else {
            return;
        };
        let now = self.now();
        self.learn_xml(&mut self.lock(), &doc.root, now);
    }

    /// Decides a request before it reaches the emulator.
    pub(super) fn before(&self, call: &Call, req: &Req, arrived: Duration) -> Verdict {
        let mut inner = self.lock();
        let now = arrived;
        if self.cfg.throttling && req.service == "ec2" && !take_tokens(&mut inner, req, now) {
            inner.counters.throttles += 1;
            return Verdict::Fail(Fault::new(
                503,
                "RequestLimitExceeded",
                "Request limit exceeded.",
            ));
        }
        let named = req.named();
        // First use: the first request naming a new id fails, whenever it comes.
        let mut failure: Option<Fault> = None;
        let mut empty_instead = false;
        let mut consumed: Vec<String> = Vec::new();
        for (key, _, _, only_filter) in &named {
            if *only_filter || !inner.fresh.contains(key) {
                continue;
            }
            let Some(new) = inner.new_ids.get(key).cloned() else {
                continue;
            };
            let id = display_id(key);
            // ECS describes what it does not know yet as a `MISSING` failure, not an error.
            if let Some(list) = match (req.action.as_str(), new.kind) {
                ("DescribeServices", Kind::EcsService) => Some("services"),
                ("DescribeClusters", Kind::EcsCluster) => Some("clusters"),
                _ => None,
            } {
                let keys = inner
                    .res
                    .get(&new.resource)
                    .map(|r| r.keys.clone())
                    .unwrap_or_default();
                for k in keys {
                    inner.fresh.remove(&k);
                }
                inner.counters.not_found += 1;
                let body = serde_json::json!({
                    list: [],
                    "failures": [{"arn": id, "reason": "MISSING"}],
                })
                .to_string();
                return Verdict::Answer(http(200, "application/x-amz-json-1.1", &body));
            }
            let Some(fault) = not_found(new.kind, new.by_name, req, &id) else {
                continue;
            };
            consumed.push(new.resource.clone());
            if failure.is_none() {
                empty_instead = req.service == "autoscaling" && req.read;
                failure = Some(fault);
            }
        }
        if let Some(fault) = failure {
            for r in consumed {
                let keys = inner
                    .res
                    .get(&r)
                    .map(|r| r.keys.clone())
                    .unwrap_or_default();
                for k in keys {
                    inner.fresh.remove(&k);
                }
            }
            inner.counters.not_found += 1;
            if empty_instead {
                return Verdict::ForwardEmptied;
            }
            return Verdict::Fail(fault);
        }
        // Filtered describes do not list a new id yet.
        if req.read {
            let window = self.scaled(self.cfg.timings.visibility_window);
            let recent = named.iter().any(|(key, _, _, only_filter)| {
                *only_filter
                    && inner
                        .new_ids
                        .get(key)
                        .is_some_and(|n| now < n.created + window)
            });
            if recent {
                inner.counters.filtered_emptied += 1;
                return Verdict::ForwardEmptied;
            }
        }
        if let Some(fault) = self.refusal(&mut inner, req, now) {
            return Verdict::Fail(fault);
        }
        self.defer(&mut inner, call, req, now)
    }

    /// Dependency and lifecycle refusals.
    fn refusal(&self, inner: &mut Inner, req: &Req, now: Duration) -> Option<Fault> {
        let live = |r: &&Res| !r.gone(now);
        let fault = match (req.service.as_str(), req.action.as_str()) {
            ("ec2", "DeleteSubnet") => {
                let subnet = req.get("SubnetId")?;
                inner
                    .res
                    .values()
                    .filter(live)
                    .find(|r| r.subnets.iter().any(|s| s == subnet))?;
                Some(dependency(format!(
                    "The subnet '{subnet}' has dependencies and cannot be deleted."
                )))
            }
            ("ec2", "DeleteSecurityGroup") => {
                let group = req.get("GroupId")?;
                inner
                    .res
                    .values()
                    .filter(live)
                    .find(|r| r.groups.iter().any(|g| g == group))?;
                Some(dependency(format!(
                    "resource {group} has a dependent object"
                )))
            }
            ("ec2", "ReleaseAddress") => {
                let eip = req.get("AllocationId")?;
                inner
                    .res
                    .values()
                    .filter(live)
                    .find(|r| r.kind == Kind::NatGateway && r.eips.iter().any(|e| e == eip))?;
                if inner.rng.u8(..4) == 0 {
                    Some(Fault::new(
                        401,
                        "AuthFailure",
                        "You do not have permission to access the specified resource.",
                    ))
                } else {
                    Some(Fault::new(
                        400,
                        "InvalidIPAddress.InUse",
                        &format!("Address {eip} is in use."),
                    ))
                }
            }
            ("ec2", "DetachInternetGateway") => {
                let vpc = req.get("VpcId")?;
                let subnet_vpc = &inner.subnet_vpc;
                inner.res.values().filter(live).find(|r| {
                    vpc_of(r, subnet_vpc).as_deref() == Some(vpc)
                        && match r.kind {
                            Kind::NatGateway => true,
                            Kind::LoadBalancer => r.internet_facing,
                            Kind::Instance => r.public_ip,
                            _ => false,
                        }
                })?;
                Some(dependency(format!(
                    "Network {vpc} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."
                )))
            }
            ("ec2", "RunInstances") => {
                let (value, param) = match (req.get("Arn"), req.get("Name")) {
                    (Some(arn), _) if arn.starts_with("arn:") => (arn.to_owned(), "arn"),
                    (_, Some(name)) => (name.to_owned(), "name"),
                    _ => return None,
                };
                let name = value.rsplit('/').next().unwrap_or(&value).to_owned();
                let key = inner.alias.get(&name_key(Kind::InstanceProfile, &name))?;
                let profile = inner.res.get(key)?;
                if now >= profile.ready_at() {
                    return None;
                }
                inner.counters.propagation_refusals += 1;
                let what = if param == "arn" { "ARN" } else { "name" };
                return Some(Fault::new(
                    400,
                    "InvalidParameterValue",
                    &format!(
                        "Value ({value}) for parameter iamInstanceProfile.{param} is invalid. Invalid IAM Instance Profile {what}"
                    ),
                ));
            }
            ("ecs", "DeleteCluster") => {
                let cluster = req.get("cluster")?;
                let key = inner.alias.get(cluster)?.clone();
                let draining = self.scaled(self.cfg.timings.ecs_service_draining);
                inner.res.values().find(|r| {
                    r.kind == Kind::EcsService
                        && r.parents.contains(&key)
                        && r.deleted_at.is_none_or(|d| now < d + draining)
                })?;
                Some(Fault::new(
                    400,
                    "ClusterContainsServicesException",
                    "The Cluster cannot be deleted while Services are active.",
                ))
            }
            ("elasticfilesystem", _) if req.rest("POST", &["2015-02-01", "mount-targets"]) => {
                let fs = req.get("FileSystemId")?;
                let key = inner.alias.get(fs)?;
                let f = inner.res.get(key)?;
                if !(f.creating(now) || f.deleted_at.is_some()) {
                    return None;
                }
                Some(Fault::new(
                    409,
                    "IncorrectFileSystemLifeCycleState",
                    &format!(
                        "File system '{fs}' is {}; mount targets need it available.",
                        if f.creating(now) {
                            "creating"
                        } else {
                            "deleting"
                        }
                    ),
                ))
            }
            ("elasticfilesystem", _)
                if req.rest("DELETE", &["2015-02-01", "file-systems", "*"]) =>
            {
                let fs = req.path[2].clone();
                inner.res.values().filter(live).find(|r| {
                    r.kind == Kind::MountTarget && r.file_system.as_deref() == Some(&fs)
                })?;
                Some(Fault::new(
                    409,
                    "FileSystemInUse",
                    &format!("File system '{fs}' has mount targets."),
                ))
            }
            _ => None,
        };
        if fault.is_some() {
            inner.counters.dependency_refusals += 1;
        }
        fault
    }

    /// Deletes the emulator would apply at once: answered now, forwarded when the modeled
    /// window ends.
    fn defer(&self, inner: &mut Inner, call: &Call, req: &Req, now: Duration) -> Verdict {
        let t = &self.cfg.timings;
        let (ids, window, answer): (Vec<String>, Duration, Answer) = match (
            req.service.as_str(),
            req.action.as_str(),
        ) {
            ("ec2", "DeleteNatGateway") => {
                let Some(id) = req.get("NatGatewayId").map(str::to_owned) else {
                    return Verdict::Forward;
                };
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteNatGatewayResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>aws-model</requestId><natGatewayId>{id}</natGatewayId></DeleteNatGatewayResponse>"
                );
                (
                    vec![id],
                    self.scaled(t.nat_deleting),
                    Box::new(move |_| http(200, "text/xml", &body)),
                )
            }
            ("ec2", "TerminateInstances") => {
                let ids = req.all("InstanceId");
                let list = ids.clone();
                (
                    ids,
                    self.scaled(t.instance_shutting_down),
                    Box::new(move |inner: &Inner| {
                        let mut items = String::new();
                        for id in &list {
                            let before = match inner.alias.get(id).and_then(|k| inner.res.get(k)) {
                                Some(r) if r.creating(now) => (0, "pending"),
                                _ => (16, "running"),
                            };
                            items.push_str(&format!(
                                    "<item><instanceId>{id}</instanceId><currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>{}</code><name>{}</name></previousState></item>",
                                    before.0, before.1
                                ));
                        }
                        http(
                            200,
                            "text/xml",
                            &format!(
                                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TerminateInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>aws-model</requestId><instancesSet>{items}</instancesSet></TerminateInstancesResponse>"
                            ),
                        )
                    }),
                )
            }
            ("elasticfilesystem", _)
                if req.rest("DELETE", &["2015-02-01", "mount-targets", "*"]) =>
            {
                (
                    vec![req.path[2].clone()],
                    self.scaled(t.mt_deleting),
                    Box::new(|_| http(204, "application/json", "")),
                )
            }
            ("elasticfilesystem", _)
                if req.rest("DELETE", &["2015-02-01", "file-systems", "*"]) =>
            {
                (
                    vec![req.path[2].clone()],
                    self.scaled(t.fs_deleting),
                    Box::new(|_| http(204, "application/json", "")),
                )
            }
            _ => return Verdict::Forward,
        };
        if ids.is_empty() {
            return Verdict::Forward;
        }
        // Only what the model tracks, and not already gone (else the emulator answers).
        let keys: Option<Vec<String>> = ids
            .iter()
            .map(|id| {
                let key = inner.alias.get(id)?;
                let r = inner.res.get(key)?;
                (!r.gone(now)).then(|| key.clone())
            })
            .collect();
        let Some(keys) = keys else {
            return Verdict::Forward;
        };
        // The answer shows the states before this delete (an instance still pending).
        let response = answer(inner);
        let mut started = false;
        for key in &keys {
            if let Some(r) = inner.res.get_mut(key)
                && r.deleted_at.is_none()
            {
                r.delete_requested_at = Some(now);
                r.deleted_at = Some(now);
                r.gone_delay = window;
                started = true;
            }
        }
        if started {
            inner.counters.deferred_deletes += 1;
            inner.deferred.push(Deferred {
                due: now + window,
                head: call.head.clone(),
                body: call.body.clone(),
            });
        }
        Verdict::Answer(response)
    }

    /// Learns from an answer of the emulator and rewrites it as AWS would answer.
    pub(super) fn after(
        &self,
        req: &Req,
        arrived: Duration,
        emptied: bool,
        raw: Vec<u8>,
    ) -> Vec<u8> {
        let Some(mut resp) = HttpResponse::parse(&raw) else {
            return raw;
        };
        let now = self.now();
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        let mut inner = self.lock();
        inner.counters.forwarded += 1;
        inner.latencies.push(now.saturating_sub(arrived));
        let ok = (200..300).contains(&resp.status);
        if ok {
            if is_create(req) {
                self.record_create(&mut inner, req, &text, arrived, now);
            } else if !req.read {
                self.record_mutation(&mut inner, req, arrived, now);
            }
        }
        let mut changed = false;
        // States are judged as of the call's arrival, when the deferred deletes due were
        // forwarded: a slow answer does not show a window's end the emulator has not seen.
        let at = arrived;
        let json = text.trim_start().starts_with('{');
        if ok && json && req.service == "elasticfilesystem" {
            if let Ok(mut v) = serde_json::from_str::<Value>(&text)
                && self.rewrite_efs(&mut inner, &mut v, at)
            {
                resp.body = v.to_string().into_bytes();
                changed = true;
            }
        } else if ok && json && req.service == "ecs" {
            if let Ok(mut v) = serde_json::from_str::<Value>(&text)
                && self.rewrite_ecs(&mut inner, &mut v, at)
            {
                resp.body = v.to_string().into_bytes();
                changed = true;
            }
        } else if req.service != "s3"
            && !json
            && text.contains('<')
            && let Some(mut doc) = Doc::parse(&text)
        {
            let mut edited = false;
            if emptied {
                doc.empty_results();
                edited = true;
            }
            self.learn_xml(&mut inner, &doc.root, now);
            edited |= self.rewrite_xml(&mut inner, req, &mut doc.root, at);
            if edited {
                resp.body = doc.write().into_bytes();
                changed = true;
            }
        }
        for (tok, _) in scan_ids(&text) {
            inner.seen.insert(tok);
        }
        drop(inner);
        if changed { resp.to_bytes() } else { raw }
    }

    fn record_create(
        &self,
        inner: &mut Inner,
        req: &Req,
        text: &str,
        arrived: Duration,
        now: Duration,
    ) {
        let t = &self.cfg.timings;
        let request_text = req.text();
        let named = req.named();
        let parents: Vec<String> = named
            .iter()
            .filter(|(_, _, _, f)| !f)
            .filter_map(|(k, ..)| inner.alias.get(k).cloned())
            .collect();
        // (tracking key, kind, by name, display id) of every new id, grouped per resource.
        let mut groups: Vec<Vec<(String, Kind, bool, String)>> = Vec::new();
        let scanned = scan_ids(text);
        let fresh_tokens: Vec<(String, Kind)> = if matches!(
            req.service.as_str(),
            "ec2" | "elasticloadbalancing" | "elasticfilesystem" | "ecs"
        ) {
            let mut v: Vec<(String, Kind)> = Vec::new();
            let made = created_kinds(req);
            for (tok, kind) in scanned {
                if made.contains(&kind)
                    && !request_text.contains(&tok)
                    && !inner.seen.contains(&tok)
                    && !v.iter().any(|(x, _)| *x == tok)
                {
                    v.push((tok, kind));
                }
            }
            v
        } else {
            Vec::new()
        };
        match (req.service.as_str(), req.action.as_str()) {
            ("ec2", "CreateKeyPair") => {
                let mut g = Vec::new();
                if let Some(name) = req.get("KeyName") {
                    g.push((
                        name_key(Kind::KeyPair, name),
                        Kind::KeyPair,
                        true,
                        name.to_owned(),
                    ));
                }
                for (tok, kind) in &fresh_tokens {
                    if *kind == Kind::KeyPair {
                        g.push((tok.clone(), *kind, false, tok.clone()));
                    }
                }
                groups.push(g);
            }
            ("ec2", "CreateLaunchTemplate") => {
                let mut g: Vec<(String, Kind, bool, String)> = fresh_tokens
                    .iter()
                    .filter(|(_, k)| *k == Kind::LaunchTemplate)
                    .map(|(tok, k)| (tok.clone(), *k, false, tok.clone()))
                    .collect();
                if let Some(name) = req.get("LaunchTemplateName") {
                    g.push((
                        name_key(Kind::LaunchTemplate, name),
                        Kind::LaunchTemplate,
                        true,
                        name.to_owned(),
                    ));
                }
                groups.push(g);
            }
            ("iam", "CreateRole") => {
                if let Some(n) = req.get("RoleName") {
                    groups.push(vec![(
                        name_key(Kind::Role, n),
                        Kind::Role,
                        true,
                        n.to_owned(),
                    )]);
                }
            }
            ("iam", "CreateInstanceProfile") => {
                if let Some(n) = req.get("InstanceProfileName") {
                    groups.push(vec![(
                        name_key(Kind::InstanceProfile, n),
                        Kind::InstanceProfile,
                        true,
                        n.to_owned(),
                    )]);
                }
            }
            ("autoscaling", _) => {
                if let Some(n) = req.get("AutoScalingGroupName") {
                    groups.push(vec![(
                        name_key(Kind::AutoScalingGroup, n),
                        Kind::AutoScalingGroup,
                        true,
                        n.to_owned(),
                    )]);
                }
            }
            ("ecr", _) => {
                if let Some(n) = req.get("repositoryName") {
                    groups.push(vec![(
                        name_key(Kind::Repository, n),
                        Kind::Repository,
                        true,
                        n.to_owned(),
                    )]);
                }
            }
            ("s3", _) => {
                if let Some(b) = req.path.first() {
                    groups.push(vec![(
                        name_key(Kind::Bucket, b),
                        Kind::Bucket,
                        true,
                        b.clone(),
                    )]);
                }
            }
            _ => {
                for (tok, kind) in &fresh_tokens {
                    groups.push(vec![(tok.clone(), *kind, false, tok.clone())]);
                }
            }
        }
        let xml = if text.trim_start().starts_with('<') {
            Doc::parse(text)
        } else {
            None
        };
        let json: Option<Value> = serde_json::from_str(text).ok();
        for g in groups {
            let Some((key, kind, _, id)) = g.first().cloned() else {
                continue;
            };
            if inner.alias.contains_key(&key) {
                // Already known (a create answered twice): nothing new.
                continue;
            }
            let mut r = Res::new(kind, &id, Some(arrived), now);
            r.keys = g.iter().map(|(k, ..)| k.clone()).collect();
            r.parents = parents.iter().filter(|p| **p != key).cloned().collect();
            r.parents.dedup();
            match kind {
                Kind::NatGateway => {
                    r.ready_delay = self.scaled(t.nat_pending);
                    r.subnets = req.all("SubnetId");
                    r.eips = req.all("AllocationId");
                    r.vpc = xml
                        .as_ref()
                        .and_then(|d| find_text(&d.root, "vpcId"))
                        .or_else(|| {
                            r.subnets
                                .first()
                                .and_then(|s| inner.subnet_vpc.get(s).cloned())
                        });
                }
                Kind::Instance => {
                    r.ready_delay = self.scaled(t.instance_pending);
                    r.subnets = req.all("SubnetId");
                    r.groups = req.all("SecurityGroupId");
                    if let Some(d) = &xml
                        && let Some(item) = find_item(&d.root, "instanceId", &id)
                    {
                        apply_instance_item(&mut r, item);
                    }
                    if r.vpc.is_none() {
                        r.vpc = r
                            .subnets
                            .first()
                            .and_then(|s| inner.subnet_vpc.get(s).cloned());
                    }
                }
                Kind::LoadBalancer => {
                    r.ready_delay = self.scaled(t.lb_provisioning);
                    r.gone_delay = self.scaled(t.lb_eni_linger);
                    r.subnets = req.all("Subnets");
                    r.subnets.extend(req.all("SubnetId"));
                    r.groups = req.all("SecurityGroups");
                    r.internet_facing = req.get("Scheme") != Some("internal");
                    r.vpc = r
                        .subnets
                        .iter()
                        .find_map(|s| inner.subnet_vpc.get(s).cloned())
                        .or_else(|| xml.as_ref().and_then(|d| find_text(&d.root, "VpcId")));
                    r.eni_description = id
                        .split_once(":loadbalancer/")
                        .map(|(_, path)| format!("ELB {path}"));
                }
                Kind::FileSystem => {
                    r.ready_delay = self.scaled(t.fs_creating);
                }
                Kind::MountTarget => {
                    r.ready_delay = self.scaled(t.mt_creating);
                    r.file_system = req.get("FileSystemId").map(str::to_owned);
                    r.subnets = req.all("SubnetId");
                    r.groups = req.all("SecurityGroups");
                    r.vpc = json
                        .as_ref()
                        .and_then(|v| v.get("VpcId"))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
                Kind::InstanceProfile => {
                    r.ready_delay = self.scaled(t.profile_propagation);
                }
                Kind::Image => r.ready_delay = self.scaled(t.image_pending),
                Kind::Snapshot => r.ready_delay = self.scaled(t.snapshot_pending),
                Kind::Volume => r.ready_delay = self.scaled(t.volume_creating),
                Kind::EcsService => {
                    // ECS takes a target group only once a listener forwards to it: the
                    // service comes after that listener (its request does not name it).
                    let listeners: Vec<String> = inner
                        .res
                        .iter()
                        .filter(|(_, l)| {
                            l.kind == Kind::Listener
                                && l.parents.iter().any(|p| r.parents.contains(p))
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    r.parents.extend(listeners);
                    r.ready_delay = self.scaled(t.ecs_service_deploying);
                    r.gone_delay = self.scaled(t.ecs_service_draining + t.ecs_task_eni_linger);
                    r.subnets = req.all("subnets");
                    r.groups = req.all("securityGroups");
                    r.public_ip = req.get("assignPublicIp") == Some("ENABLED");
                    r.vpc = r
                        .subnets
                        .iter()
                        .find_map(|s| inner.subnet_vpc.get(s).cloned());
                }
                Kind::Subnet => {
                    if let Some(vpc) = xml.as_ref().and_then(|d| find_text(&d.root, "vpcId")) {
                        inner.subnet_vpc.insert(id.clone(), vpc);
                    }
                }
                _ => {}
            }
            // What its presence keeps attached: the internet gateway of its VPC.
            if let Some(vpc) = &r.vpc
                && (matches!(kind, Kind::NatGateway | Kind::LoadBalancer) || r.public_ip)
            {
                let igws: Vec<String> = inner
                    .igw_vpc
                    .iter()
                    .filter(|(_, v)| *v == vpc)
                    .filter_map(|(igw, _)| inner.alias.get(igw).cloned())
                    .collect();
                r.holds = igws;
            }
            for (k, kind, by_name, _) in &g {
                inner.alias.insert(k.clone(), key.clone());
                inner.new_ids.insert(
                    k.clone(),
                    NewId {
                        kind: *kind,
                        by_name: *by_name,
                        resource: key.clone(),
                        created: now,
                    },
                );
                inner.fresh.insert(k.clone());
            }
            inner.order.push(key.clone());
            inner.res.insert(key, r);
        }
    }

    /// A successful mutating call that creates nothing: deletes, relations, steps.
    fn record_mutation(&self, inner: &mut Inner, req: &Req, arrived: Duration, now: Duration) {
        let named: Vec<String> = req
            .named()
            .into_iter()
            .filter(|(_, _, _, f)| !f)
            .filter_map(|(k, ..)| inner.alias.get(&k).cloned())
            .collect();
        let deletes: Option<Kind> = match (req.service.as_str(), req.action.as_str()) {
            ("ec2", "DeleteVpc") => Some(Kind::Vpc),
            ("ec2", "DeleteSubnet") => Some(Kind::Subnet),
            ("ec2", "DeleteInternetGateway") => Some(Kind::InternetGateway),
            ("ec2", "DeleteRouteTable") => Some(Kind::RouteTable),
            ("ec2", "ReleaseAddress") => Some(Kind::ElasticIp),
            ("ec2", "DeleteNatGateway") => Some(Kind::NatGateway),
            ("ec2", "DeleteNetworkAcl") => Some(Kind::NetworkAcl),
            ("ec2", "DeleteSecurityGroup") => Some(Kind::SecurityGroup),
            ("ec2", "TerminateInstances") => Some(Kind::Instance),
            ("ec2", "DeleteLaunchTemplate") => Some(Kind::LaunchTemplate),
            ("ec2", "DeleteKeyPair") => Some(Kind::KeyPair),
            ("ec2", "DeregisterImage") => Some(Kind::Image),
            ("ec2", "DeleteSnapshot") => Some(Kind::Snapshot),
            ("ec2", "DeleteVolume") => Some(Kind::Volume),
            ("ec2", "DeleteVpcEndpoints") => Some(Kind::VpcEndpoint),
            ("elasticloadbalancing", "DeleteLoadBalancer") => Some(Kind::LoadBalancer),
            ("elasticloadbalancing", "DeleteTargetGroup") => Some(Kind::TargetGroup),
            ("elasticloadbalancing", "DeleteListener") => Some(Kind::Listener),
            ("iam", "DeleteRole") => Some(Kind::Role),
            ("iam", "DeleteInstanceProfile") => Some(Kind::InstanceProfile),
            ("autoscaling", "DeleteAutoScalingGroup") => Some(Kind::AutoScalingGroup),
            ("ecr", "DeleteRepository") => Some(Kind::Repository),
            ("ecs", "DeleteService") => Some(Kind::EcsService),
            ("ecs", "DeleteCluster") => Some(Kind::EcsCluster),
            ("s3", _) if req.method == "DELETE" && req.path.len() == 1 && req.query_empty => {
                Some(Kind::Bucket)
            }
            ("elasticfilesystem", _)
                if req.rest("DELETE", &["2015-02-01", "file-systems", "*"]) =>
            {
                Some(Kind::FileSystem)
            }
            ("elasticfilesystem", _)
                if req.rest("DELETE", &["2015-02-01", "mount-targets", "*"]) =>
            {
                Some(Kind::MountTarget)
            }
            _ => None,
        };
        if let Some(kind) = deletes {
            for key in &named {
                if let Some(r) = inner.res.get_mut(key)
                    && r.kind == kind
                    && r.deleted_at.is_none()
                {
                    r.delete_requested_at = Some(arrived);
                    r.deleted_at = Some(now);
                }
            }
            return;
        }
        match (req.service.as_str(), req.action.as_str()) {
            ("ec2", "AttachInternetGateway") => {
                if let (Some(igw), Some(vpc)) = (req.get("InternetGatewayId"), req.get("VpcId")) {
                    inner.igw_vpc.insert(igw.to_owned(), vpc.to_owned());
                }
            }
            ("iam", "AddRoleToInstanceProfile") => {
                let role = req
                    .get("RoleName")
                    .and_then(|n| inner.alias.get(&name_key(Kind::Role, n)).cloned());
                let profile = req.get("InstanceProfileName").and_then(|n| {
                    inner
                        .alias
                        .get(&name_key(Kind::InstanceProfile, n))
                        .cloned()
                });
                if let Some(p) = profile.and_then(|p| inner.res.get_mut(&p)) {
                    p.usable_from = Some(now);
                    p.extra_calls += 1;
                    if let Some(role) = role
                        && !p.parents.contains(&role)
                    {
                        p.parents.push(role);
                    }
                }
            }
            _ => {}
        }
        if !named.is_empty() {
            let names = named
                .iter()
                .filter_map(|k| inner.res.get(k).map(|r| r.id.clone()))
                .collect();
            inner.steps.push(StepRecord {
                action: req.action.clone(),
                names,
                at: arrived,
                done: now,
            });
        }
    }

    /// Relations the emulator's XML answers show (subnets' VPCs, gateways' attachments,
    /// instances' addresses).
    fn learn_xml(&self, inner: &mut Inner, root: &El, now: Duration) {
        let mut subnets = Vec::new();
        let mut igws = Vec::new();
        let mut instances = Vec::new();
        let mut deleted = Vec::new();
        root.walk(&mut |e| {
            if let (Some(s), Some(v)) = (e.child_text("subnetId"), e.child_text("vpcId"))
                && e.child("cidrBlock").is_some()
            {
                subnets.push((s, v));
            }
            if let Some(igw) = e.child_text("internetGatewayId")
                && let Some(att) = e.child("attachmentSet")
            {
                for a in att.elements() {
                    if let Some(v) = a.child_text("vpcId") {
                        igws.push((igw.clone(), v));
                    }
                }
            }
            if e.child("instanceId").is_some() && e.child("instanceState").is_some() {
                instances.push(e.clone());
            }
            if let (Some(id), Some("deleted")) = (
                e.child_text("natGatewayId"),
                e.child_text("state").as_deref(),
            ) {
                deleted.push(id);
            }
        });
        for (s, v) in subnets {
            inner.subnet_vpc.insert(s, v);
        }
        for (i, v) in igws {
            inner.igw_vpc.insert(i, v);
        }
        for item in instances {
            let Some(id) = item.child_text("instanceId") else {
                continue;
            };
            if let Some(key) = inner.alias.get(&id).cloned()
                && let Some(r) = inner.res.get_mut(&key)
            {
                apply_instance_item(r, &item);
                let state = item
                    .child("instanceState")
                    .and_then(|s| s.child_text("name"));
                deleted_outside(r, state.as_deref() == Some("terminated"), now);
            }
        }
        for id in deleted {
            if let Some(key) = inner.alias.get(&id).cloned()
                && let Some(r) = inner.res.get_mut(&key)
            {
                deleted_outside(r, true, now);
            }
        }
    }

    /// NAT gateways, instances and load balancers in their modeled states; lingering load
    /// balancer interfaces; items a state filter no longer selects dropped.
    fn rewrite_xml(&self, inner: &mut Inner, req: &Req, root: &mut El, now: Duration) -> bool {
        let mut rewritten = 0u64;
        let state_of = |id: &str, inner: &Inner| -> Option<Res> {
            inner.alias.get(id).and_then(|k| inner.res.get(k)).cloned()
        };
        let snapshot: &Inner = inner;
        let mut edits: Vec<(String, &'static str, Option<u8>)> = Vec::new();
        root.walk(&mut |e| {
            if let (Some(id), Some(_)) = (e.child_text("natGatewayId"), e.child("state"))
                && let Some(r) = state_of(&id, snapshot)
            {
                let cur = e.child_text("state").unwrap_or_default();
                if cur == "available" && r.creating(now) {
                    edits.push((id, "pending", None));
                } else if (cur == "available" || cur == "pending") && r.deleting(now) {
                    edits.push((id, "deleting", None));
                }
            }
            if let (Some(id), Some(st)) = (e.child_text("instanceId"), e.child("instanceState"))
                && let Some(r) = state_of(&id, snapshot)
            {
                let cur = st.child_text("name").unwrap_or_default();
                if cur == "running" && r.creating(now) {
                    edits.push((id, "pending", Some(0)));
                } else if (cur == "running" || cur == "pending") && r.deleting(now) {
                    edits.push((id, "shutting-down", Some(32)));
                }
            }
            // An image, a snapshot (not an image's mapping of one) and a volume (not an
            // attachment of one) while they are made.
            if let (Some(id), Some(cur)) = (e.child_text("imageId"), e.child_text("imageState"))
                && cur == "available"
                && state_of(&id, snapshot).is_some_and(|r| r.creating(now))
            {
                edits.push((id, "pending", None));
            }
            if let (Some(id), Some(cur)) = (e.child_text("snapshotId"), e.child_text("status"))
                && cur == "completed"
                && state_of(&id, snapshot).is_some_and(|r| r.creating(now))
            {
                edits.push((id, "pending", None));
            }
            if let (Some(id), Some(cur)) = (e.child_text("volumeId"), e.child_text("status"))
                && e.child("availabilityZone").is_some()
                && cur == "available"
                && state_of(&id, snapshot).is_some_and(|r| r.creating(now))
            {
                edits.push((id, "creating", None));
            }
            if let (Some(arn), Some(st)) = (e.child_text("LoadBalancerArn"), e.child("State"))
                && let Some(r) = state_of(&arn, snapshot)
                && st.child_text("Code").as_deref() == Some("active")
                && r.creating(now)
            {
                edits.push((arn, "provisioning", None));
            }
        });
        if !edits.is_empty() {
            root.walk_mut(&mut |e| {
                for (id, state, code) in &edits {
                    let was = |e: &El, path: &[&str], from: &[&str]| {
                        let mut cur = Some(e);
                        for p in path {
                            cur = cur.and_then(|c| c.child(p));
                        }
                        cur.is_some_and(|c| from.contains(&c.text().as_str()))
                    };
                    if e.child_text("natGatewayId").as_deref() == Some(id)
                        && was(e, &["state"], &["available", "pending"])
                    {
                        if let Some(s) = e.child_mut("state") {
                            s.set_text(state);
                            rewritten += 1;
                        }
                    } else if e.child_text("instanceId").as_deref() == Some(id)
                        && was(e, &["instanceState", "name"], &["running", "pending"])
                    {
                        if let Some(s) = e.child_mut("instanceState") {
                            if let Some(n) = s.child_mut("name") {
                                n.set_text(state);
                            }
                            if let (Some(c), Some(code)) = (s.child_mut("code"), code) {
                                c.set_text(&code.to_string());
                            }
                            rewritten += 1;
                        }
                    } else if e.child_text("imageId").as_deref() == Some(id)
                        && was(e, &["imageState"], &["available"])
                    {
                        if let Some(s) = e.child_mut("imageState") {
                            s.set_text(state);
                            rewritten += 1;
                        }
                    } else if e.child_text("snapshotId").as_deref() == Some(id)
                        && was(e, &["status"], &["completed"])
                    {
                        if let Some(s) = e.child_mut("status") {
                            s.set_text(state);
                            rewritten += 1;
                        }
                        if let Some(p) = e.child_mut("progress") {
                            p.set_text("42%");
                        }
                    } else if e.child_text("volumeId").as_deref() == Some(id)
                        && e.child("availabilityZone").is_some()
                        && was(e, &["status"], &["available"])
                    {
                        if let Some(s) = e.child_mut("status") {
                            s.set_text(state);
                            rewritten += 1;
                        }
                    } else if e.child_text("LoadBalancerArn").as_deref() == Some(id)
                        && was(e, &["State", "Code"], &["active"])
                        && let Some(c) = e.child_mut("State").and_then(|s| s.child_mut("Code"))
                    {
                        c.set_text(state);
                        rewritten += 1;
                    }
                }
            });
        }
        let mut edited = rewritten > 0;
        inner.counters.states_rewritten += rewritten;
        // A state filter selects by the modeled state.
        if req.service == "ec2" && rewritten > 0 {
            if let Some(states) = req.filter_values("state") {
                edited |= retain_items(root, &mut |e| {
                    e.child("natGatewayId").is_none()
                        || e.child_text("state").is_none_or(|s| states.contains(&s))
                });
            }
            if let Some(states) = req.filter_values("instance-state-name") {
                edited |= retain_items(root, &mut |e| {
                    e.child("instanceId").is_none()
                        || e.child("instanceState")
                            .and_then(|s| s.child_text("name"))
                            .is_none_or(|s| states.contains(&s))
                });
                // A reservation without instances is not listed.
                edited |= retain_items(root, &mut |e| {
                    e.child("reservationId").is_none()
                        || e.child("instancesSet")
                            .is_some_and(|s| s.elements().next().is_some())
                });
            }
        }
        // A load balancer's interfaces, until they are released.
        if req.service == "ec2"
            && req.action == "DescribeNetworkInterfaces"
            && let Some(descriptions) = req.filter_values("description")
        {
            let lbs: Vec<Res> = inner
                .res
                .values()
                .filter(|r| {
                    r.kind == Kind::LoadBalancer
                        && !r.gone(now)
                        && r.eni_description
                            .as_ref()
                            .is_some_and(|d| descriptions.contains(d))
                })
                .cloned()
                .collect();
            if let Some(set) = root.child_mut("networkInterfaceSet") {
                for lb in &lbs {
                    for (i, subnet) in lb.subnets.iter().enumerate() {
                        set.children.push(Node::El(eni_item(lb, subnet, i)));
                        set.empty = false;
                        inner.counters.enis_shown += 1;
                        edited = true;
                    }
                }
            }
        }
        edited
    }

    /// EFS file systems and mount targets in their modeled states.
    /// ECS services in their modeled states: deploying (no task running yet, the deployment
    /// `IN_PROGRESS`), then, deleted, `DRAINING` until their tasks have stopped.
    fn rewrite_ecs(&self, inner: &mut Inner, v: &mut Value, now: Duration) -> bool {
        let draining = self.scaled(self.cfg.timings.ecs_service_draining);
        let (alias, res) = (&inner.alias, &inner.res);
        let mut rewritten = 0;
        let mut fix = |s: &mut Value| {
            let Some(r) = s["serviceArn"]
                .as_str()
                .and_then(|arn| alias.get(arn))
                .and_then(|k| res.get(k))
            else {
                return;
            };
            if r.creating(now) {
                let desired = s["desiredCount"].clone();
                s["runningCount"] = Value::from(0);
                s["pendingCount"] = desired.clone();
                if let Some(ds) = s["deployments"].as_array_mut() {
                    for d in ds.iter_mut().filter(|d| d["status"] == "PRIMARY") {
                        d["runningCount"] = Value::from(0);
                        d["pendingCount"] = desired.clone();
                        d["rolloutState"] = Value::from("IN_PROGRESS");
                    }
                }
                rewritten += 1;
            } else if let Some(d) = r.deleted_at
                && now < d + draining
            {
                s["status"] = Value::from("DRAINING");
                rewritten += 1;
            }
        };
        if let Some(list) = v.get_mut("services").and_then(Value::as_array_mut) {
            for s in list {
                fix(s);
            }
        }
        if let Some(s) = v.get_mut("service") {
            fix(s);
        }
        inner.counters.states_rewritten += rewritten;
        rewritten > 0
    }

    fn rewrite_efs(&self, inner: &mut Inner, v: &mut Value, now: Duration) -> bool {
        let mut n = 0u64;
        let snapshot: &Inner = inner;
        walk_json(v, &mut |o| {
            let id = o
                .get("MountTargetId")
                .or_else(|| o.get("FileSystemId"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let (Some(id), Some(state)) = (id, o.get("LifeCycleState").and_then(Value::as_str))
            else {
                return;
            };
            let Some(r) = snapshot.alias.get(&id).and_then(|k| snapshot.res.get(k)) else {
                return;
            };
            let new = if state == "available" && r.creating(now) {
                Some("creating")
            } else if state == "available" && r.deleting(now) {
                Some("deleting")
            } else {
                None
            };
            if let Some(new) = new {
                o.insert("LifeCycleState".to_owned(), Value::String(new.to_owned()));
                n += 1;
            }
        });
        inner.counters.states_rewritten += n;
        n > 0
    }

    /// The record so far.
    pub(super) fn report(&self) -> ModelReport {
        let inner = self.lock();
        let id_of = |k: &String| {
            inner
                .res
                .get(k)
                .map_or_else(|| display_id(k), |r| r.id.clone())
        };
        let resources = inner
            .order
            .iter()
            .filter_map(|k| inner.res.get(k))
            .map(|r| ResourceRecord {
                kind: r.kind,
                id: r.id.clone(),
                parents: r.parents.iter().map(id_of).collect(),
                holds: r.holds.iter().map(id_of).collect(),
                created_at: r.created_at,
                responded_at: r.responded_at,
                ready_at: r.ready_at(),
                modeled_ready: r.ready_delay,
                extra_calls: r.extra_calls,
                delete_requested_at: r.delete_requested_at,
                gone_at: r.gone_at(),
                modeled_gone: if r.deleted_at.is_some() {
                    r.gone_delay
                } else {
                    Duration::ZERO
                },
            })
            .collect();
        let mut lat = inner.latencies.clone();
        lat.sort_unstable();
        let c = &inner.counters;
        ModelReport {
            scale: self.cfg.scale,
            resources,
            steps: inner.steps.clone(),
            not_found_injected: c.not_found,
            filtered_describes_emptied: c.filtered_emptied,
            states_rewritten: c.states_rewritten,
            dependency_refusals: c.dependency_refusals,
            propagation_refusals: c.propagation_refusals,
            throttles: c.throttles,
            deferred_deletes: c.deferred_deletes,
            deferred_failed: c.deferred_failed,
            lingering_enis_shown: c.enis_shown,
            calls_forwarded: c.forwarded,
            median_call_latency: lat.get(lat.len() / 2).copied().unwrap_or_default(),
        }
    }
}

/// The VPC of a resource: its subnets' (as the emulator reports subnets), else its own.
fn vpc_of(r: &Res, subnet_vpc: &HashMap<String, String>) -> Option<String> {
    r.subnets
        .iter()
        .find_map(|s| subnet_vpc.get(s).cloned())
        .or_else(|| r.vpc.clone())
}

/// A request head with its `Content-Length` replaced.
pub(super) fn with_length(head: &[u8], len: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("Content-Length: {len}\r\n\r\n"));
    out.into_bytes()
}

/// The id inside a tracking key (`iam_role:web` -> `web`).
fn display_id(key: &str) -> String {
    if key.starts_with("arn:") || PREFIXES.iter().any(|(p, _)| key.starts_with(p)) {
        return key.to_owned();
    }
    key.split_once(':').map_or(key, |(_, n)| n).to_owned()
}

fn is_create(req: &Req) -> bool {
    let a = req.action.as_str();
    match req.service.as_str() {
        "ec2" => {
            (a.starts_with("Create") || a.starts_with("Allocate") || a == "RunInstances")
                && !matches!(a, "CreateTags" | "CreateRoute" | "CreateNetworkAclEntry")
        }
        "elasticloadbalancing" => {
            matches!(
                a,
                "CreateLoadBalancer" | "CreateTargetGroup" | "CreateListener"
            )
        }
        "elasticfilesystem" => {
            req.rest("POST", &["2015-02-01", "file-systems"])
                || req.rest("POST", &["2015-02-01", "mount-targets"])
        }
        "iam" => matches!(a, "CreateRole" | "CreateInstanceProfile"),
        "s3" => req.method == "PUT" && req.path.len() == 1 && req.query_empty,
        "ecr" => a == "CreateRepository",
        "autoscaling" => a == "CreateAutoScalingGroup",
        "ecs" => matches!(a, "CreateCluster" | "CreateService"),
        _ => false,
    }
}

/// The kinds of id a creating call makes (its answer also names others: the VPC of a new
/// subnet, the subnet of a new NAT gateway, which are not new even if the proxy never saw them).
fn created_kinds(req: &Req) -> Vec<Kind> {
    let a = req.action.as_str();
    match req.service.as_str() {
        "ec2" => match a {
            "CreateVpc" => vec![Kind::Vpc],
            "CreateSubnet" => vec![Kind::Subnet],
            "CreateInternetGateway" => vec![Kind::InternetGateway],
            "CreateRouteTable" => vec![Kind::RouteTable],
            "AllocateAddress" => vec![Kind::ElasticIp],
            "CreateNatGateway" => vec![Kind::NatGateway],
            "CreateNetworkAcl" => vec![Kind::NetworkAcl],
            "CreateSecurityGroup" => vec![Kind::SecurityGroup],
            "RunInstances" => vec![Kind::Instance],
            "CreateLaunchTemplate" => vec![Kind::LaunchTemplate],
            "CreateKeyPair" => vec![Kind::KeyPair],
            "CreateVpcEndpoint" => vec![Kind::VpcEndpoint],
            "CreateImage" => vec![Kind::Image],
            "CreateSnapshot" => vec![Kind::Snapshot],
            "CreateVolume" => vec![Kind::Volume],
            _ => Vec::new(),
        },
        "elasticloadbalancing" => match a {
            "CreateLoadBalancer" => vec![Kind::LoadBalancer],
            "CreateTargetGroup" => vec![Kind::TargetGroup],
            "CreateListener" => vec![Kind::Listener],
            _ => Vec::new(),
        },
        "elasticfilesystem" if req.path.get(1).map(String::as_str) == Some("file-systems") => {
            vec![Kind::FileSystem]
        }
        "elasticfilesystem" => vec![Kind::MountTarget],
        "ecs" => match a {
            "CreateCluster" => vec![Kind::EcsCluster],
            "CreateService" => vec![Kind::EcsService],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The not-found error of a new id's kind as the service of `req` says it, or `None` where
/// that service cannot name such an id.
fn not_found(kind: Kind, by_name: bool, req: &Req, id: &str) -> Option<Fault> {
    let f = |status: u16, code: &str, message: String| Some(Fault::new(status, code, &message));
    match (req.service.as_str(), kind) {
        ("ec2", Kind::Vpc) => f(
            400,
            "InvalidVpcID.NotFound",
            format!("The vpc ID '{id}' does not exist"),
        ),
        ("ec2", Kind::Subnet) => f(
            400,
            "InvalidSubnetID.NotFound",
            format!("The subnet ID '{id}' does not exist"),
        ),
        ("ec2", Kind::InternetGateway) => f(
            400,
            "InvalidInternetGatewayID.NotFound",
            format!("The internetGateway ID '{id}' does not exist"),
        ),
        ("ec2", Kind::RouteTable) => f(
            400,
            "InvalidRouteTableID.NotFound",
            format!("The routeTable ID '{id}' does not exist"),
        ),
        ("ec2", Kind::ElasticIp) => f(
            400,
            "InvalidAllocationID.NotFound",
            format!("The allocation ID '{id}' does not exist"),
        ),
        ("ec2", Kind::NatGateway) => f(
            400,
            "NatGatewayNotFound",
            format!("The Nat Gateway {id} was not found"),
        ),
        ("ec2", Kind::NetworkAcl) => f(
            400,
            "InvalidNetworkAclID.NotFound",
            format!("The networkAcl ID '{id}' does not exist"),
        ),
        ("ec2", Kind::SecurityGroup) => f(
            400,
            "InvalidGroup.NotFound",
            format!("The security group '{id}' does not exist"),
        ),
        ("ec2", Kind::Instance) => f(
            400,
            "InvalidInstanceID.NotFound",
            format!("The instance ID '{id}' does not exist"),
        ),
        ("ec2", Kind::LaunchTemplate) if by_name => f(
            400,
            "InvalidLaunchTemplateName.NotFoundException",
            "At least one of the launch templates specified in the request does not exist."
                .to_owned(),
        ),
        ("ec2", Kind::LaunchTemplate) => f(
            400,
            "InvalidLaunchTemplateId.NotFound",
            format!("The specified launch template, with template ID {id}, does not exist."),
        ),
        ("ec2", Kind::VpcEndpoint) => f(
            400,
            "InvalidVpcEndpointId.NotFound",
            format!("The Vpc Endpoint Id '{id}' does not exist"),
        ),
        ("ec2", Kind::Image) => f(
            400,
            "InvalidAMIID.NotFound",
            format!("The image id '[{id}]' does not exist"),
        ),
        ("ec2", Kind::Snapshot) => f(
            400,
            "InvalidSnapshot.NotFound",
            format!("The snapshot '{id}' does not exist."),
        ),
        ("ec2", Kind::Volume) => f(
            400,
            "InvalidVolume.NotFound",
            format!("The volume '{id}' does not exist."),
        ),
        ("ec2", Kind::KeyPair) => f(
            400,
            "InvalidKeyPair.NotFound",
            format!("The key pair '{id}' does not exist"),
        ),
        ("elasticfilesystem", Kind::FileSystem) => f(
            404,
            "FileSystemNotFound",
            format!("File system '{id}' does not exist."),
        ),
        ("elasticfilesystem", Kind::MountTarget) => f(
            404,
            "MountTargetNotFound",
            format!("Mount target '{id}' does not exist."),
        ),
        ("elasticfilesystem", Kind::Subnet) => f(
            400,
            "SubnetNotFound",
            format!("The subnet ID '{id}' does not exist"),
        ),
        ("elasticfilesystem", Kind::SecurityGroup) => f(
            400,
            "SecurityGroupNotFound",
            format!("The security group '{id}' does not exist"),
        ),
        ("elasticloadbalancing", Kind::LoadBalancer) => f(
            400,
            "LoadBalancerNotFound",
            format!("Load balancers '[{id}]' not found"),
        ),
        ("elasticloadbalancing", Kind::TargetGroup) => f(
            400,
            "TargetGroupNotFound",
            format!("Target groups '[{id}]' not found"),
        ),
        ("elasticloadbalancing", Kind::Listener) => f(
            400,
            "ListenerNotFound",
            format!("Listeners '[{id}]' not found"),
        ),
        ("elasticloadbalancing", Kind::Subnet) => f(
            400,
            "SubnetNotFound",
            format!("The subnet ID '{id}' is not valid"),
        ),
        ("elasticloadbalancing", Kind::SecurityGroup) => f(
            400,
            "InvalidSecurityGroup",
            format!("Security group '{id}' does not exist"),
        ),
        ("elasticloadbalancing", Kind::Vpc) => f(
            400,
            "ValidationError",
            format!("The VPC ID '{id}' is not found"),
        ),
        ("iam", Kind::Role) => f(
            404,
            "NoSuchEntity",
            format!("The role with name {id} cannot be found."),
        ),
        ("iam", Kind::InstanceProfile) => f(
            404,
            "NoSuchEntity",
            format!("Instance Profile {id} cannot be found."),
        ),
        ("s3", Kind::Bucket) => f(
            404,
            "NoSuchBucket",
            "The specified bucket does not exist".to_owned(),
        ),
        ("ecr", Kind::Repository) => f(
            400,
            "RepositoryNotFoundException",
            format!("The repository with name '{id}' does not exist in the registry"),
        ),
        ("autoscaling", Kind::AutoScalingGroup) => f(
            400,
            "ValidationError",
            format!("AutoScalingGroup name not found - AutoScalingGroup '{id}' not found"),
        ),
        ("autoscaling", Kind::Subnet) => f(
            400,
            "ValidationError",
            format!("The subnet ID '{id}' does not exist"),
        ),
        ("autoscaling", Kind::LaunchTemplate) => f(
            400,
            "ValidationError",
            format!(
                "You must use a valid fully-formed launch template. The specified launch template, with template {} {id}, does not exist.",
                if by_name { "name" } else { "ID" }
            ),
        ),
        ("ecs", Kind::EcsCluster) => f(
            400,
            "ClusterNotFoundException",
            "Cluster not found.".to_owned(),
        ),
        ("ecs", Kind::EcsService) => f(
            400,
            "ServiceNotFoundException",
            "Service not found.".to_owned(),
        ),
        ("autoscaling", Kind::TargetGroup) => f(
            400,
            "ValidationError",
            format!("Provided Target Groups may not be valid. Please ensure they exist: {id}"),
        ),
        _ => None,
    }
}

/// EC2's request token buckets (per API action) and resource token buckets; false when one
/// of them cannot pay for this call.
fn take_tokens(inner: &mut Inner, req: &Req, now: Duration) -> bool {
    let a = req.action.as_str();
    let read = ["Describe", "Get", "List", "Search"]
        .iter()
        .any(|p| a.starts_with(p));
    let small_unfiltered = matches!(
        a,
        "DescribeInstances"
            | "DescribeInstanceStatus"
            | "DescribeNetworkInterfaces"
            | "DescribeSecurityGroups"
            | "DescribeSnapshots"
            | "DescribeSpotInstanceRequests"
            | "DescribeVolumes"
    );
    let uncategorized: Option<(f64, f64)> = match a {
        "CreateNatGateway"
        | "DeleteNatGateway"
        | "AssociateNatGatewayAddress"
        | "DisassociateNatGatewayAddress" => Some((10.0, 1.0)),
        "CreateTags" | "DeleteTags" => Some((100.0, 10.0)),
        "RunInstances" | "StartInstances" => Some((5.0, 2.0)),
        "TerminateInstances"
        | "CreateLaunchTemplateVersion"
        | "ModifyLaunchTemplate"
        | "CreateNetworkInterface"
        | "DeleteNetworkInterface"
        | "AssociateIamInstanceProfile"
        | "DisassociateIamInstanceProfile"
        | "CreateVolume"
        | "DeleteVolume"
        | "ModifyNetworkInterfaceAttribute"
        | "ModifyInstanceMetadataOptions"
        | "AssignPrivateIpAddresses"
        | "UnassignPrivateIpAddresses" => Some((100.0, 5.0)),
        "CreateDefaultVpc" | "CreateDefaultSubnet" => Some((1.0, 1.0)),
        "CreateVpcEndpoint" | "DeleteVpcEndpoints" | "ModifyVpcEndpoint" => Some((4.0, 0.3)),
        _ => None,
    };
    let (bucket, cap, rate) = match uncategorized {
        Some((c, r)) => (a.to_owned(), c, r),
        None if read && small_unfiltered && !req.filtered_or_paginated => {
            (format!("{a}#unfiltered"), 50.0, 10.0)
        }
        None if read => (a.to_owned(), 100.0, 20.0),
        // Mutating and resource-intensive actions (AuthorizeSecurityGroupIngress, CreateKeyPair,
        // ...) both have 50 tokens and 5 per second, each action its own bucket.
        None => (a.to_owned(), 50.0, 5.0),
    };
    let mut wanted = vec![(bucket, cap, rate, 1.0)];
    let resources = match a {
        "RunInstances" => Some((
            1000.0,
            2.0,
            req.get("MaxCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1.0),
        )),
        "TerminateInstances" => Some((1000.0, 20.0, req.all("InstanceId").len().max(1) as f64)),
        "StartInstances" => Some((1000.0, 2.0, req.all("InstanceId").len().max(1) as f64)),
        "StopInstances" => Some((1000.0, 20.0, req.all("InstanceId").len().max(1) as f64)),
        _ => None,
    };
    if let Some((cap, rate, cost)) = resources {
        wanted.push((format!("{a}#resources"), cap, rate, cost));
    }
    let mut levels = Vec::new();
    for (key, cap, rate, cost) in &wanted {
        let b = inner.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: *cap,
            at: now,
        });
        let tokens = (b.tokens + now.saturating_sub(b.at).as_secs_f64() * rate).min(*cap);
        b.tokens = tokens;
        b.at = now;
        levels.push((key.clone(), tokens, *cost));
    }
    if levels.iter().any(|(_, tokens, cost)| tokens < cost) {
        return false;
    }
    for (key, _, cost) in levels {
        if let Some(b) = inner.buckets.get_mut(&key) {
            b.tokens -= cost;
        }
    }
    true
}

/// The first text of an element named `name` anywhere below `root`.
fn find_text(root: &El, name: &str) -> Option<String> {
    let mut found = None;
    root.walk(&mut |e| {
        if found.is_none() && e.name == name {
            found = Some(e.text());
        }
    });
    found.filter(|s| !s.is_empty())
}

/// The element below `root` whose child `key` has the text `id`.
fn find_item<'a>(root: &'a El, key: &str, id: &str) -> Option<&'a El> {
    if root.child_text(key).as_deref() == Some(id) {
        return Some(root);
    }
    root.elements().find_map(|c| find_item(c, key, id))
}

/// A resource the emulator shows gone although its delete did not go through the model (a
/// test's own cleanup, an Auto Scaling drain): gone now.
fn deleted_outside(r: &mut Res, gone: bool, now: Duration) {
    if gone && r.deleted_at.is_none() {
        r.deleted_at = Some(now);
        r.gone_delay = Duration::ZERO;
    }
}

fn apply_instance_item(r: &mut Res, item: &El) {
    if let Some(s) = item.child_text("subnetId").filter(|s| !s.is_empty()) {
        r.subnets = vec![s];
    }
    if let Some(v) = item.child_text("vpcId").filter(|s| !s.is_empty()) {
        r.vpc = Some(v);
    }
    if let Some(groups) = item.child("groupSet") {
        let ids: Vec<String> = groups
            .elements()
            .filter_map(|g| g.child_text("groupId"))
            .collect();
        if !ids.is_empty() {
            r.groups = ids;
        }
    }
    if item
        .child_text("ipAddress")
        .is_some_and(|ip| !ip.is_empty())
    {
        r.public_ip = true;
    }
}

/// Removes, everywhere below `root`, the elements `keep` refuses; true if any was removed.
fn retain_items(root: &mut El, keep: &mut dyn FnMut(&El) -> bool) -> bool {
    let before = root.children.len();
    root.children.retain(|n| match n {
        Node::El(e) => keep(e),
        Node::Raw(_) => true,
    });
    let mut removed = root.children.len() != before;
    for c in root.elements_mut() {
        removed |= retain_items(c, keep);
    }
    removed
}

/// A requester-managed interface of a load balancer in `subnet`.
fn eni_item(lb: &Res, subnet: &str, i: usize) -> El {
    let description = lb.eni_description.clone().unwrap_or_default();
    let hash = description.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let id = format!("eni-{:016x}{i:x}", hash);
    let groups = lb
        .groups
        .iter()
        .map(|g| Node::El(El::new("item", vec![El::leaf("groupId", g)])))
        .collect();
    El::new(
        "item",
        vec![
            El::leaf("networkInterfaceId", &id),
            El::leaf("subnetId", subnet),
            El::leaf("vpcId", lb.vpc.as_deref().unwrap_or_default()),
            El::leaf("description", &description),
            El::leaf("ownerId", "123456789012"),
            El::leaf("requesterId", "amazon-elb"),
            El::leaf("requesterManaged", "true"),
            El::leaf("status", "in-use"),
            El::leaf("interfaceType", "interface"),
            El::leaf("sourceDestCheck", "true"),
            Node::El(El::new("groupSet", groups)),
            Node::El(El::new("tagSet", Vec::new())),
        ],
    )
}

fn walk_json(v: &mut Value, f: &mut dyn FnMut(&mut serde_json::Map<String, Value>)) {
    match v {
        Value::Object(o) => {
            f(o);
            for x in o.values_mut() {
                walk_json(x, f);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk_json(x, f)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// The record and the critical path

/// One resource created through the proxy. Times are since the proxy started.
#[derive(Debug, Clone)]
pub struct ResourceRecord {
    pub kind: Kind,
    pub id: String,
    /// Ids of the resources (created through the proxy) its create request named.
    pub parents: Vec<String>,
    /// Ids it keeps from being deleted beyond its parents (the internet gateway of its VPC).
    pub holds: Vec<String>,
    /// When its create request arrived.
    pub created_at: Option<Duration>,
    /// When the create was answered.
    pub responded_at: Duration,
    /// When it became ready: the create answer for instant kinds, the modeled time otherwise.
    pub ready_at: Duration,
    /// The modeled time from the create answer (or its extra calls) until ready.
    pub modeled_ready: Duration,
    /// Calls after the create that readiness waits for (the role added to an instance profile).
    pub extra_calls: u32,
    pub delete_requested_at: Option<Duration>,
    /// When it was gone: the delete answer, plus the modeled window for timeline kinds.
    pub gone_at: Option<Duration>,
    pub modeled_gone: Duration,
}

/// What the realistic profile did: the record of resources and the counts of injections.
#[derive(Debug, Clone)]
pub struct ModelReport {
    pub scale: f64,
    pub resources: Vec<ResourceRecord>,
    pub steps: Vec<StepRecord>,
    /// First uses answered with a not-found error (or an empty Auto Scaling describe).
    pub not_found_injected: u64,
    pub filtered_describes_emptied: u64,
    pub states_rewritten: u64,
    /// `DependencyViolation`, `InvalidIPAddress.InUse`/`AuthFailure`, `FileSystemInUse`,
    /// `IncorrectFileSystemLifeCycleState`.
    pub dependency_refusals: u64,
    /// `RunInstances` refused an instance profile EC2 cannot see yet.
    pub propagation_refusals: u64,
    pub throttles: u64,
    /// Deletes answered by the model and forwarded when their window ended.
    pub deferred_deletes: u64,
    /// Deferred deletes the emulator refused when they were forwarded.
    pub deferred_failed: u64,
    pub lingering_enis_shown: u64,
    pub calls_forwarded: u64,
    /// The median time the emulator took per forwarded call.
    pub median_call_latency: Duration,
}

impl ModelReport {
    /// One line of counts, for test output.
    pub fn summary(&self) -> String {
        format!(
            "{} resources; not-found {}, filtered emptied {}, states rewritten {}, dependency refusals {}, propagation refusals {}, throttles {}, deferred deletes {} ({} failed), lingering ENIs shown {}; {} calls forwarded, median {:.1} ms",
            self.resources.len(),
            self.not_found_injected,
            self.filtered_describes_emptied,
            self.states_rewritten,
            self.dependency_refusals,
            self.propagation_refusals,
            self.throttles,
            self.deferred_deletes,
            self.deferred_failed,
            self.lingering_enis_shown,
            self.calls_forwarded,
            self.median_call_latency.as_secs_f64() * 1000.0
        )
    }

    pub fn resource(&self, id: &str) -> Option<&ResourceRecord> {
        self.resources.iter().find(|r| r.id == id)
    }
}

/// Which command a critical path is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Up,
    Down,
}

/// The longest chain of calls that must follow each other plus modeled state durations.
#[derive(Debug, Clone)]
pub struct CriticalPath {
    pub total: Duration,
    /// Calls on the chain (each one call latency).
    pub calls: u32,
    /// Modeled state durations on the chain.
    pub modeled: Duration,
    /// The chain, first to last: `kind id` per resource.
    pub chain: Vec<String>,
}

/// The critical path of an `up` or a `down` recorded in `report`, with `latency` per call
/// (the bench's injected latency plus the emulator's [`ModelReport::median_call_latency`]).
///
/// Definition (a lower bound no client can beat against this model):
///
/// - **up**: over the resources created through the proxy, with the edges of their create
///   requests (a resource follows every tracked resource its create request named, and an
///   instance profile follows the role added to it):
///   `ready(r) = max(ready(p) for parents p) + L + (extra calls of r) * L + max(L, D(r))`,
///   where `L` is one call latency (the create), `D(r)` the modeled time from the create answer
///   until ready (0 for instant kinds), and the `max(L, D)` term because the first use of every
///   new id fails once (a call that can overlap the modeled wait, not precede it). A successful
///   mutating call that is not a create (`CreateRoute`, `AttachInternetGateway`,
///   `AuthorizeSecurityGroupIngress`, ...) is a step: `max(ready(named)) + L`. The answer is the
///   largest `ready` or step.
/// - **down**: over the resources whose delete went through the proxy, a resource is deleted
///   after every resource that names it as a parent or holds it (the internet gateway of a NAT
///   gateway's VPC) is gone: `gone(r) = max(gone(d) for dependents d) + L + G(r)`, with `G(r)`
///   the modeled time from the delete answer until gone (NAT ~60 s, load balancer interfaces
///   ~120 s, ... times `scale`; 0 for instant kinds).
///
/// Discovery describes, polls beyond one per wait, detach/disassociate/revoke calls before a
/// delete and client-side retries are not on the path: wall time minus this is what a client's
/// own ordering and waiting cost.
/// Whether a resource of kind `child` made from or with one of kind `parent` no longer holds
/// it once made: an image its source instance, an instance the template or image it was
/// launched from, a template its image, an ECS service the listener it waited for (it holds the
/// target group, not the listener). AWS deletes each of those while the other stays.
fn released(child: Kind, parent: Kind) -> bool {
    matches!(
        (child, parent),
        (Kind::Image, Kind::Instance)
            | (Kind::Instance, Kind::LaunchTemplate | Kind::Image)
            | (Kind::LaunchTemplate, Kind::Image)
            | (Kind::EcsService, Kind::Listener)
    )
}

pub fn critical_path(report: &ModelReport, phase: Phase, latency: Duration) -> CriticalPath {
    let nodes: Vec<&ResourceRecord> = report
        .resources
        .iter()
        .filter(|r| match phase {
            Phase::Up => r.created_at.is_some(),
            Phase::Down => r.delete_requested_at.is_some(),
        })
        .collect();
    let ids: HashSet<&str> = nodes.iter().map(|r| r.id.as_str()).collect();
    let mut graph: HashMap<String, Node_> = HashMap::new();
    for r in &nodes {
        let (preds, cost, calls, modeled) = match phase {
            Phase::Up => {
                let wait = latency.max(r.modeled_ready);
                let preds = r
                    .parents
                    .iter()
                    .filter(|p| ids.contains(p.as_str()))
                    .cloned()
                    .collect();
                let modeled = if r.modeled_ready > latency {
                    r.modeled_ready
                } else {
                    Duration::ZERO
                };
                (
                    preds,
                    latency * (1 + r.extra_calls) + wait,
                    1 + r.extra_calls + u32::from(modeled.is_zero()),
                    modeled,
                )
            }
            Phase::Down => {
                let preds = nodes
                    .iter()
                    .filter(|d| {
                        d.id != r.id
                            && ((d.parents.contains(&r.id) && !released(d.kind, r.kind))
                                || d.holds.contains(&r.id))
                    })
                    .map(|d| d.id.clone())
                    .collect();
                (preds, latency + r.modeled_gone, 1, r.modeled_gone)
            }
        };
        graph.insert(
            r.id.clone(),
            Node_ {
                preds,
                cost,
                calls,
                modeled,
                label: format!("{} {}", r.kind.as_str(), r.id),
            },
        );
    }
    let mut memo: HashMap<String, Path_> = HashMap::new();
    let mut best = Path_::default();
    for r in &nodes {
        let p = longest(&r.id, &graph, &mut memo, &mut HashSet::new());
        if p.total > best.total {
            best = p;
        }
    }
    if phase == Phase::Up {
        for s in &report.steps {
            let mut p = Path_::default();
            for n in s.names.iter().filter(|n| graph.contains_key(n.as_str())) {
                let x = longest(n, &graph, &mut memo, &mut HashSet::new());
                if x.total >= p.total {
                    p = x;
                }
            }
            if p.chain.is_empty() {
                continue;
            }
            p.total += latency;
            p.calls += 1;
            p.chain.push(s.action.clone());
            if p.total > best.total {
                best = p;
            }
        }
    }
    CriticalPath {
        total: best.total,
        calls: best.calls,
        modeled: best.modeled,
        chain: best.chain,
    }
}

/// A node of the critical-path graph: what must come first, and its own cost.
struct Node_ {
    preds: Vec<String>,
    cost: Duration,
    calls: u32,
    modeled: Duration,
    label: String,
}

#[derive(Debug, Clone, Default)]
struct Path_ {
    total: Duration,
    calls: u32,
    modeled: Duration,
    chain: Vec<String>,
}

/// The longest path ending at `id` (a cycle, which a record should not have, is cut).
fn longest(
    id: &str,
    graph: &HashMap<String, Node_>,
    memo: &mut HashMap<String, Path_>,
    visiting: &mut HashSet<String>,
) -> Path_ {
    if let Some(p) = memo.get(id) {
        return p.clone();
    }
    let Some(node) = graph.get(id) else {
        return Path_::default();
    };
    if !visiting.insert(id.to_owned()) {
        return Path_::default();
    }
    let mut best = Path_::default();
    for p in &node.preds {
        let x = longest(p, graph, memo, visiting);
        if x.total > best.total {
            best = x;
        }
    }
    visiting.remove(id);
    best.total += node.cost;
    best.calls += node.calls;
    best.modeled += node.modeled;
    best.chain.push(node.label.clone());
    memo.insert(id.to_owned(), best.clone());
    best
}
