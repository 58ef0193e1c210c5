//! What counts against each quota now: one paginated listing per quota, of everything in the
//! account and Region (or the account, for buckets), whoever made it.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum;

use super::catalog::Quota;
use crate::aws::{Aws, AwsError};
use crate::resources::instance::standard_vcpus;

/// How much of `quota` is used now. For a quota per Availability Zone, the fullest zone's count.
pub async fn used(aws: &Aws, quota: Quota) -> Result<u32, AwsError> {
    let n = match quota {
        Quota::Vpcs => vpcs(aws).await?,
        Quota::InternetGateways => internet_gateways(aws).await?,
        Quota::ElasticIps => elastic_ips(aws).await?,
        Quota::NatGatewaysPerAz => nat_gateways_fullest_az(aws).await?,
        Quota::SecurityGroups => security_groups(aws).await?,
        Quota::ApplicationLoadBalancers => application_load_balancers(aws).await?,
        Quota::TargetGroups => target_groups(aws).await?,
        Quota::AutoScalingGroups => auto_scaling_groups(aws).await?,
        Quota::OnDemandStandardVcpus => standard_vcpus_running(aws).await?,
        Quota::EfsFileSystems => file_systems(aws).await?,
        Quota::S3Buckets => buckets(aws).await?,
    };
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

async fn vpcs(aws: &Aws) -> Result<usize, AwsError> {
    let all = aws
        .ec2
        .describe_vpcs()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeVpcs", "VPCs", e))?;
    Ok(all.len())
}

async fn internet_gateways(aws: &Aws) -> Result<usize, AwsError> {
    let all = aws
        .ec2
        .describe_internet_gateways()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeInternetGateways", "internet gateways", e))?;
    Ok(all.len())
}

/// Every address the Region holds (`DescribeAddresses` returns them all in one page).
async fn elastic_ips(aws: &Aws) -> Result<usize, AwsError> {
    let out = aws
        .ec2
        .describe_addresses()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeAddresses", "Elastic IPs", e))?;
    Ok(out.addresses().len())
}

/// NAT gateways count while `pending`, `available` or `deleting` (the VPC quota page); the zone
/// of each is its subnet's.
async fn nat_gateways_fullest_az(aws: &Aws) -> Result<usize, AwsError> {
    let nats = aws
        .ec2
        .describe_nat_gateways()
        .filter(
            Filter::builder()
                .name("state")
                .values("pending")
                .values("available")
                .values("deleting")
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeNatGateways", "NAT gateways", e))?;
    let subnet_ids: Vec<String> = nats
        .iter()
        .filter_map(|n| n.subnet_id().map(str::to_owned))
        .collect();
    if subnet_ids.is_empty() {
        return Ok(0);
    }
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("subnet-id")
                .set_values(Some(subnet_ids))
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeSubnets", "NAT gateways' subnets", e))?;
    let az_of: BTreeMap<&str, &str> = subnets
        .iter()
        .filter_map(|s| Some((s.subnet_id()?, s.availability_zone()?)))
        .collect();
    let mut per_az: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &nats {
        // A gateway whose subnet is not listed is put in a zone of its own: counted, never lost.
        let az = n
            .subnet_id()
            .and_then(|s| az_of.get(s).copied())
            .unwrap_or("unknown");
        *per_az.entry(az).or_default() += 1;
    }
    Ok(per_az.values().copied().max().unwrap_or(0))
}

async fn security_groups(aws: &Aws) -> Result<usize, AwsError> {
    let all = aws
        .ec2
        .describe_security_groups()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeSecurityGroups", "security groups", e))?;
    Ok(all.len())
}

async fn application_load_balancers(aws: &Aws) -> Result<usize, AwsError> {
    let all = aws
        .elbv2
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            AwsError::from_sdk(
                "elasticloadbalancing:DescribeLoadBalancers",
                "load balancers",
                e,
            )
        })?;
    Ok(all
        .iter()
        .filter(|lb| lb.r#type() == Some(&LoadBalancerTypeEnum::Application))
        .count())
}

/// Every target group: the quota is shared by Application and Network Load Balancers.
async fn target_groups(aws: &Aws) -> Result<usize, AwsError> {
    let all = aws
        .elbv2
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            AwsError::from_sdk(
                "elasticloadbalancing:DescribeTargetGroups",
                "target groups",
                e,
            )
        })?;
    Ok(all.len())
}

async fn auto_scaling_groups(aws: &Aws) -> Result<usize, AwsError> {
    let all = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            AwsError::from_sdk(
                "autoscaling:DescribeAutoScalingGroups",
                "Auto Scaling groups",
                e,
            )
        })?;
    Ok(all.len())
}

/// The vCPUs of the `pending` and `running` instances of the Standard families: from each
/// instance's CPU options, else from its type.
async fn standard_vcpus_running(aws: &Aws) -> Result<usize, AwsError> {
    let pages = aws
        .ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .build(),
        )
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", "instances", e))?;
    let mut vcpus = 0usize;
    for instance in pages
        .iter()
        .flat_map(|p| p.reservations())
        .flat_map(|r| r.instances())
    {
        let Some(by_type) = instance
            .instance_type()
            .and_then(|t| standard_vcpus(t.as_str()))
        else {
            continue;
        };
        let by_cpu = instance.cpu_options().and_then(|c| {
            let cores = u32::try_from(c.core_count()?).ok()?;
            let threads = u32::try_from(c.threads_per_core()?).ok()?;
            Some(cores.saturating_mul(threads)).filter(|n| *n > 0)
        });
        vcpus = vcpus.saturating_add(by_cpu.unwrap_or(by_type) as usize);
    }
    Ok(vcpus)
}

/// File systems that are not deleted yet.
async fn file_systems(aws: &Aws) -> Result<usize, AwsError> {
    let all = aws
        .efs
        .describe_file_systems()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("efs:DescribeFileSystems", "file systems", e))?;
    Ok(all
        .iter()
        .filter(|fs| fs.life_cycle_state().as_str() != "deleted")
        .count())
}

/// Every general purpose bucket of the account, in every Region.
async fn buckets(aws: &Aws) -> Result<usize, AwsError> {
    let all = aws
        .s3
        .list_buckets()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("s3:ListBuckets", "buckets", e))?;
    Ok(all.len())
}
