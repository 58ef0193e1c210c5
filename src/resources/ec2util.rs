//! Small helpers the kinds share: scope filters, and answers that mean "already done" where a
//! call's goal is met (a rule not there, a role already detached).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;

use super::Scope;
use crate::aws::tags;
use crate::aws::{Aws, AwsError};

pub fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    let mut b = Filter::builder().name(name);
    for v in values {
        b = b.values(v);
    }
    b.build()
}

/// The filters for a scope. `vpc_filter` is the kind's filter name for "in this VPC"
/// (`vpc-id`, `attachment.vpc-id`); `None` for kinds that live outside VPCs, which then find
/// nothing in an `InVpcs` scope. `None` as the result means "nothing to ask".
pub fn scope_filters(scope: &Scope, vpc_filter: Option<&str>) -> Option<Vec<Filter>> {
    match scope {
        Scope::Owned(owner) => Some(owner.filters()),
        Scope::InVpcs(ids) => {
            if ids.is_empty() {
                return None;
            }
            vpc_filter.map(|f| vec![filter(f, ids.iter().cloned())])
        }
        Scope::Named(names) => {
            if names.is_empty() {
                return None;
            }
            Some(vec![filter(
                &format!("tag:{}", tags::NAME),
                names.iter().cloned(),
            )])
        }
        Scope::Region => Some(Vec::new()),
        Scope::AnyLab => Some(vec![filter("tag-key", [tags::LAB])]),
        // Each owner's lab and env among the values: what the listing returns beyond the
        // owners' (another owner's env name under a third's lab) the caller leaves out.
        Scope::Owners(owners) if owners.is_empty() => None,
        Scope::Owners(owners) => {
            let labs: BTreeSet<&str> = owners.iter().map(|o| o.lab.as_str()).collect();
            let envs: BTreeSet<&str> = owners.iter().map(|o| o.env.as_str()).collect();
            Some(vec![
                filter(&format!("tag:{}", tags::LAB), labs),
                filter(&format!("tag:{}", tags::ENV), envs),
            ])
        }
    }
}

/// Treats "already gone" as success.
pub fn gone_ok<T>(r: Result<T, AwsError>) -> Result<(), AwsError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_gone() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Treats "that setting or rule is not there" as success (what removing it was for).
pub fn unset_ok<T>(r: Result<T, AwsError>) -> Result<(), AwsError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.class == crate::aws::ErrorClass::Unset => Ok(()),
        Err(e) => Err(e),
    }
}

/// The VPC of each subnet (one call): what a load balancer or an Auto Scaling group spans is
/// placed by its subnets (one emulator reports a fixed VPC for load balancers).
pub async fn subnet_vpcs(
    aws: &Aws,
    subnets: Vec<String>,
) -> Result<BTreeMap<String, String>, AwsError> {
    if subnets.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = aws
        .ec2
        .describe_subnets()
        .filters(filter("subnet-id", subnets))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeSubnets", "subnets", e))?;
    Ok(out
        .subnets()
        .iter()
        .filter_map(|s| Some((s.subnet_id()?.to_owned(), s.vpc_id()?.to_owned())))
        .collect())
}
