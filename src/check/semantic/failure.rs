//! Why a semantic check fails, as data: what is missing or wrong, on which resource, with the
//! values found. The display is the sentence the report prints; the meaning of each area
//! (routes, websites, load balancers, file systems) lives next to the check that finds it.

use thiserror::Error;

use super::efs::Mounting;
use super::load_balancing::Serving;
use super::network::Routing;
use super::s3::Website;
use crate::reach;

/// Why a semantic check fails.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Failure {
    // What the check names.
    /// A resource the check names is not bound to anything.
    #[error("{}`{name}` was not found", noun_text(*.noun))]
    NotFound { noun: Option<Noun>, name: String },
    /// A resource bound to something that is not a bucket.
    #[error("{name} is not a bucket")]
    NotABucket { name: String },
    /// A setting with another value than the check asks for.
    #[error("{subject}: {setting} is {found}, not {expected}")]
    Setting {
        subject: String,
        setting: &'static str,
        found: String,
        expected: &'static str,
    },

    // Subnets, by their routes.
    /// A subnet whose routes are not what the check asks for.
    #[error("{subnet}: {why}")]
    Subnet { subnet: String, why: Routing },

    // Availability zones.
    #[error("`{name}`: availability zone unknown")]
    AzUnknown { name: String },
    /// Every resource in one zone; `placed` is each resource with its zones.
    #[error("all in one availability zone: {}", .placed.join(", "))]
    OneAz { placed: Vec<String> },

    // Buckets.
    #[error(transparent)]
    Website(#[from] Website),
    #[error("{bucket}: SSE-S3 is set, but the bucket key is off")]
    BucketKeyOff { bucket: String },
    #[error(
        "{bucket}: no default encryption configured (S3 applies SSE-S3 anyway since 2023, but the lab asks you to set it)"
    )]
    NoEncryption { bucket: String },

    // Images.
    #[error("{repository} has no image tagged {tag} (tags: {})", list_or(.tags, "none"))]
    NoSuchTag {
        repository: String,
        tag: String,
        /// The tags the repository has.
        tags: Vec<String>,
    },

    // Load balancers and groups.
    #[error(transparent)]
    Serving(#[from] Serving),

    // File systems.
    #[error(transparent)]
    Mounting(#[from] Mounting),

    // Reachability.
    /// An endpoint that stands for no host.
    #[error(transparent)]
    Unresolved(#[from] reach::Unresolved),
    /// Traffic that must get through is blocked.
    #[error("{from} -> {to} is blocked: {why}")]
    Blocked {
        from: String,
        to: String,
        why: reach::Blocked,
    },
    /// Traffic that must not get through does, along `path`.
    #[error("{from} -> {to} gets through: {path}")]
    GetsThrough {
        from: String,
        to: String,
        path: String,
    },

    /// More than one resource fails (each named in its failure).
    #[error("{}", join(.0))]
    Several(Vec<Failure>),
}

impl Failure {
    /// One failure as it is, several as [`Failure::Several`]; `None` for none.
    pub fn of_all(mut failures: Vec<Failure>) -> Option<Failure> {
        match failures.len() {
            0 => None,
            1 => failures.pop(),
            _ => Some(Failure::Several(failures)),
        }
    }
}

/// What kind of resource a check names, as its messages say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noun {
    Subnet,
    Instance,
    Bucket,
    FileSystem,
    LoadBalancer,
    AutoScalingGroup,
    Repository,
}

impl Noun {
    fn text(self) -> &'static str {
        match self {
            Noun::Subnet => "subnet",
            Noun::Instance => "instance",
            Noun::Bucket => "bucket",
            Noun::FileSystem => "file system",
            Noun::LoadBalancer => "load balancer",
            Noun::AutoScalingGroup => "Auto Scaling group",
            Noun::Repository => "repository",
        }
    }
}

fn noun_text(noun: Option<Noun>) -> String {
    noun.map(|n| format!("{} ", n.text())).unwrap_or_default()
}

fn join(failures: &[Failure]) -> String {
    failures
        .iter()
        .map(Failure::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The items joined with `, `, or `empty` when there are none.
pub(super) fn list_or(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        empty.to_owned()
    } else {
        items.join(", ")
    }
}
