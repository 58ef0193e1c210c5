//! Why an endpoint stands for no host the analysis can route, and the answer for one host that
//! is either that or a blocked path.

use thiserror::Error;

use super::Blocked;
use crate::lab::Kind;

/// Why an endpoint stands for no host the analysis can route.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Unresolved {
    #[error("from and to are both the internet")]
    BothInternet,
    #[error("`{name}` was not found")]
    NotFound { name: String },
    /// A kind that reachability is not asked of.
    #[error(
        "`{name}` is a {}: reachability is asked of instances, subnets, security groups, Auto Scaling groups and load balancers",
        .kind.label()
    )]
    NotAnEndpoint { name: String, kind: Kind },
    /// A security group with no instance and no mount target in it.
    #[error("nothing is in security group {name}")]
    EmptyGroup { name: String },
    #[error("`{name}` is not an instance")]
    NotAnInstance { name: String },
    #[error("{id} is not a mount target")]
    NotAMountTarget { id: String },
    /// Neither a load balancer nor an Auto Scaling group, asked for its subnets.
    #[error("`{name}` spans no subnets")]
    SpansNoSubnets { name: String },
    #[error("{name} is in no subnet")]
    InNoSubnet { name: String },
    /// An Auto Scaling group whose launch template and instances name no security group.
    #[error("{name}: the security groups of its launch template are unknown")]
    GroupsUnknown { name: String },
    #[error("{}", group_missing_text(.of, .group))]
    GroupMissing { of: Subject, group: String },
    /// The host's subnet is not in what was discovered; `subnet` is its id when known (the
    /// message names it for an endpoint only).
    #[error("{}", subnet_missing_text(.of, .subnet))]
    SubnetMissing { of: Subject, subnet: Option<String> },
    /// The CIDR of the endpoint's subnet (`subnet`, when it is not the endpoint itself).
    #[error("{}", cidr_text(.name, .subnet))]
    CidrUnknown {
        name: String,
        subnet: Option<String>,
    },
    /// Neither an address nor a subnet CIDR.
    #[error("{}", no_address_text(.of))]
    NoAddress { of: Subject },
}

/// Whose part is missing: an endpoint the lab names, or a mount target (by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Endpoint(String),
    MountTarget(String),
}

fn group_missing_text(of: &Subject, group: &str) -> String {
    match of {
        Subject::Endpoint(name) => format!("{name}: security group {group} was not found"),
        Subject::MountTarget(id) => {
            format!("security group {group} of mount target {id} was not found")
        }
    }
}

fn subnet_missing_text(of: &Subject, subnet: &Option<String>) -> String {
    match (of, subnet) {
        (Subject::Endpoint(name), Some(id)) => format!("{name}: subnet {id} was not found"),
        (Subject::Endpoint(name), None) => format!("{name}: its subnet was not found"),
        (Subject::MountTarget(id), _) => format!("the subnet of mount target {id} was not found"),
    }
}

fn cidr_text(name: &str, subnet: &Option<String>) -> String {
    match subnet {
        Some(s) => format!("{name}: CIDR of {s} unknown"),
        None => format!("{name}: CIDR unknown"),
    }
}

fn no_address_text(of: &Subject) -> String {
    match of {
        Subject::Endpoint(name) => format!("{name}: no private address known"),
        Subject::MountTarget(id) => format!("mount target {id}: no address known"),
    }
}

/// Why traffic to a given host cannot be judged or does not get through.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Unreachable {
    #[error(transparent)]
    Unresolved(#[from] Unresolved),
    #[error(transparent)]
    Blocked(#[from] Blocked),
}
