//! A lab's checks as validated, and the `${resource.attr}` references of its texts.

use std::fmt;

use super::Proto;

/// A semantic check from `[[checks]]`.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub kind: CheckKind,
    pub points: u32,
    pub hint: String,
}

#[derive(Debug, Clone)]
pub enum CheckKind {
    /// Each subnet routes 0.0.0.0/0 to an internet gateway attached to its VPC.
    PublicSubnet {
        subnets: Vec<String>,
    },
    /// No subnet has a route to an internet gateway.
    PrivateSubnet {
        subnets: Vec<String>,
    },
    /// Each subnet reaches the internet through an available NAT gateway in a public subnet.
    EgressViaNat {
        from: Vec<String>,
    },
    /// The resources (subnets, or instances and mount targets through their subnets) span at
    /// least two AZs.
    MultiAz {
        resources: Vec<String>,
    },
    /// Each instance can mount the file system: a mount target in its AZ, NFS (TCP 2049) from
    /// the instance to the mount target through security groups and NACLs.
    EfsMountable {
        file_system: String,
        instances: Vec<String>,
        /// Also run `mount | grep efs` through SSM on `check --live` (AWS only).
        live: bool,
    },
    /// Traffic from one endpoint gets (`expect`) or does not get to another, by static analysis
    /// of routes, NACLs and security groups.
    /// The load balancer serves the Auto Scaling group: a listener forwards to a target group the
    /// group is attached to; the load balancer is internet-facing in public subnets of two or
    /// more AZs, the group only in private subnets of two or more AZs.
    /// `alb_serves_ecs` is the same check with an ECS service for the group (`tasks`): its
    /// tasks registered with the target group, in private subnets, without public IPs.
    AlbServesAsg {
        load_balancer: String,
        group: String,
        /// The group is an ECS service's tasks.
        tasks: bool,
        /// On `check --live` (AWS): healthy targets ≥ the group's minimum, and an HTTP GET of
        /// the load balancer's DNS name answers 200.
        live: bool,
    },
    /// The bucket serves a website: hosting on with an index document that exists, a policy
    /// granting everyone `s3:GetObject` on the objects and nothing more, Block Public Access not
    /// blocking it.
    S3Website {
        bucket: String,
        /// On `check --live` (AWS): GET the index (200) and a missing page (404).
        live: bool,
    },
    /// Default encryption set explicitly to SSE-S3 with the bucket key.
    S3Encryption {
        bucket: String,
    },
    S3Versioning {
        bucket: String,
    },
    /// The tag is in the repository (its digest is the evidence).
    EcrImage {
        repository: String,
        tag: String,
    },
    /// `reachable` (`expect`) or `not_reachable`: traffic from one endpoint to another, by
    /// the static analysis of [`crate::reach`].
    Reach {
        expect: bool,
        from: Endpoint,
        to: Endpoint,
        proto: Proto,
        /// `None` for ICMP.
        port: Option<u16>,
        /// Also try it from this machine on `check --live` (TCP, from the internet).
        live: bool,
    },
}

impl CheckKind {
    /// Every resource the check names.
    pub fn refs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        match self {
            CheckKind::PublicSubnet { subnets } | CheckKind::PrivateSubnet { subnets } => {
                out.extend(subnets.iter().map(String::as_str));
            }
            CheckKind::EgressViaNat { from } => out.extend(from.iter().map(String::as_str)),
            CheckKind::MultiAz { resources } => out.extend(resources.iter().map(String::as_str)),
            CheckKind::EfsMountable {
                file_system,
                instances,
                ..
            } => {
                out.push(file_system);
                out.extend(instances.iter().map(String::as_str));
            }
            CheckKind::AlbServesAsg {
                load_balancer,
                group,
                ..
            } => {
                out.push(load_balancer);
                out.push(group);
            }
            CheckKind::S3Website { bucket, .. }
            | CheckKind::S3Encryption { bucket }
            | CheckKind::S3Versioning { bucket } => out.push(bucket),
            CheckKind::EcrImage { repository, .. } => out.push(repository),
            CheckKind::Reach { from, to, .. } => {
                for e in [from, to] {
                    if let Endpoint::Resource(n) = e {
                        out.push(n);
                    }
                }
            }
        }
        out
    }

    pub const NAMES: &[&str] = &[
        "public_subnet",
        "private_subnet",
        "egress",
        "multi_az",
        "reachable",
        "not_reachable",
        "efs_mountable",
        "alb_serves_asg",
        "alb_serves_ecs",
        "s3_website",
        "s3_encryption",
        "s3_versioning",
        "ecr_image",
    ];
}

/// One end of a reachability check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Any address on the internet.
    Internet,
    /// An instance, a subnet (a host placed in it), a security group (each instance in it), an
    /// Auto Scaling group or a load balancer (a host in each of its subnets, with its groups).
    Resource(String),
}

impl Endpoint {
    pub const INTERNET: &str = "internet";
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Internet => f.write_str(Endpoint::INTERNET),
            Endpoint::Resource(n) => f.write_str(n),
        }
    }
}

/// What instructions may say of a resource: `${NAME.id}` (its id, a bucket's name),
/// `${NAME.url}` (a load balancer's URL, a website endpoint) and `${NAME.root_snapshot}` (the
/// snapshot of an image's root volume).
pub const REF_ATTRS: &[&str] = &["id", "url", "root_snapshot"];

/// The `(name, attribute)` references (`${NAME.id}`, `${NAME.url}`) in a text.
pub fn resource_refs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        if let Some((name, attr)) = after[..end].rsplit_once('.')
            && REF_ATTRS.contains(&attr)
            && !out.iter().any(|(n, a)| n == name && a == attr)
        {
            out.push((name.to_owned(), attr.to_owned()));
        }
        rest = &after[end + 1..];
    }
    out
}

/// Replaces `${NAME.ATTR}` with `value(NAME, ATTR)`, or with `<NAME ATTR: run awslab up
/// first>`, and `${region}` with the region.
pub fn fill_refs(text: &str, region: &str, value: impl Fn(&str, &str) -> Option<String>) -> String {
    let mut out = text.replace("${region}", region);
    for (name, attr) in resource_refs(text) {
        let v =
            value(&name, &attr).unwrap_or_else(|| format!("<{name} {attr}: run awslab up first>"));
        out = out.replace(&format!("${{{name}.{attr}}}"), &v);
    }
    out
}
