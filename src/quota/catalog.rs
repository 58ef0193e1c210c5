//! The quotas the preflight knows: each one's Service Quotas codes, name, documented default and
//! scope. What uses a quota up is the kinds' to say ([`crate::resources::ResourceKind::quota_needs`]);
//! how what exists now is counted is [`super::usage`]'s.

use serde::Serialize;

/// A quota a lab's resources use up.
///
/// Defaults are the documented ones (checked against AWS's quota pages; see each variant); the
/// applied value is read from Service Quotas when it answers ([`super::applied`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quota {
    /// Amazon VPC quotas: "VPCs per Region", 5.
    Vpcs,
    /// Amazon VPC quotas: "Internet gateways per Region", 5 (raised with the VPC quota).
    InternetGateways,
    /// Amazon VPC quotas: "Elastic IP addresses per Region", 5 (an EC2 quota).
    ElasticIps,
    /// Amazon VPC quotas: "NAT gateways per Availability Zone", 5; gateways count while
    /// `pending`, `available` (`active`) or `deleting`.
    NatGatewaysPerAz,
    /// Amazon VPC quotas: "VPC security groups per Region", 2,500. Every VPC's default group
    /// counts too.
    SecurityGroups,
    /// Quotas for your Application Load Balancers: "Application Load Balancers per Region", 50.
    ApplicationLoadBalancers,
    /// Quotas for your Application Load Balancers: "Target Groups per Region", 3,000 (shared
    /// with Network Load Balancers).
    TargetGroups,
    /// Amazon EC2 Auto Scaling quotas: "Auto Scaling groups per region", 500.
    AutoScalingGroups,
    /// "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", in vCPUs. AWS sets
    /// it per account (new accounts get as little as 5); 5 is the conservative fallback.
    OnDemandStandardVcpus,
    /// Amazon EFS quotas: file systems per account in a Region, 1,000.
    EfsFileSystems,
    /// Amazon S3: general purpose buckets per account, 10,000 (all Regions together; Service
    /// Quotas shows it only in us-east-1).
    S3Buckets,
}

/// Where a quota's count is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Per account and Region.
    Region,
    /// Per account, whatever the Region.
    Account,
    /// Per Availability Zone: the fullest zone is what counts.
    PerAz,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::Region => "region",
            Scope::Account => "account",
            Scope::PerAz => "per AZ",
        })
    }
}

impl Quota {
    /// Every quota, in the order the table shows them.
    pub const ALL: &[Quota] = &[
        Quota::Vpcs,
        Quota::InternetGateways,
        Quota::ElasticIps,
        Quota::NatGatewaysPerAz,
        Quota::SecurityGroups,
        Quota::ApplicationLoadBalancers,
        Quota::TargetGroups,
        Quota::AutoScalingGroups,
        Quota::OnDemandStandardVcpus,
        Quota::EfsFileSystems,
        Quota::S3Buckets,
    ];

    /// The Service Quotas service code.
    pub fn service(self) -> &'static str {
        match self {
            Quota::Vpcs
            | Quota::InternetGateways
            | Quota::NatGatewaysPerAz
            | Quota::SecurityGroups => "vpc",
            Quota::ElasticIps | Quota::OnDemandStandardVcpus => "ec2",
            Quota::ApplicationLoadBalancers | Quota::TargetGroups => "elasticloadbalancing",
            Quota::AutoScalingGroups => "autoscaling",
            Quota::EfsFileSystems => "elasticfilesystem",
            Quota::S3Buckets => "s3",
        }
    }

    /// The Service Quotas quota code.
    pub fn code(self) -> &'static str {
        match self {
            Quota::Vpcs => "L-F678F1CE",
            Quota::InternetGateways => "L-A4707A72",
            Quota::ElasticIps => "L-0263D0A3",
            Quota::NatGatewaysPerAz => "L-FE5A380F",
            Quota::SecurityGroups => "L-E79EC296",
            Quota::ApplicationLoadBalancers => "L-53DA6B97",
            Quota::TargetGroups => "L-B22855CB",
            Quota::AutoScalingGroups => "L-CDE20ADC",
            Quota::OnDemandStandardVcpus => "L-1216C47A",
            Quota::EfsFileSystems => "L-848C634D",
            Quota::S3Buckets => "L-DC2B2D3D",
        }
    }

    /// The quota's name as Service Quotas shows it.
    pub fn name(self) -> &'static str {
        match self {
            Quota::Vpcs => "VPCs per Region",
            Quota::InternetGateways => "Internet gateways per Region",
            Quota::ElasticIps => "EC2-VPC Elastic IPs",
            Quota::NatGatewaysPerAz => "NAT gateways per Availability Zone",
            Quota::SecurityGroups => "VPC security groups per Region",
            Quota::ApplicationLoadBalancers => "Application Load Balancers per Region",
            Quota::TargetGroups => "Target Groups per Region",
            Quota::AutoScalingGroups => "Auto Scaling groups per region",
            Quota::OnDemandStandardVcpus => {
                "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (vCPUs)"
            }
            Quota::EfsFileSystems => "File systems per account",
            Quota::S3Buckets => "General purpose buckets",
        }
    }

    /// The default AWS documents, used when Service Quotas gives no answer.
    pub fn documented_default(self) -> u32 {
        match self {
            Quota::Vpcs | Quota::InternetGateways | Quota::ElasticIps | Quota::NatGatewaysPerAz => {
                5
            }
            Quota::SecurityGroups => 2_500,
            Quota::ApplicationLoadBalancers => 50,
            Quota::TargetGroups => 3_000,
            Quota::AutoScalingGroups => 500,
            Quota::OnDemandStandardVcpus => 5,
            Quota::EfsFileSystems => 1_000,
            Quota::S3Buckets => 10_000,
        }
    }

    pub fn scope(self) -> Scope {
        match self {
            Quota::NatGatewaysPerAz => Scope::PerAz,
            Quota::S3Buckets => Scope::Account,
            _ => Scope::Region,
        }
    }

    /// Where to ask for more.
    pub fn increase_url(self) -> String {
        format!(
            "https://console.aws.amazon.com/servicequotas/home/services/{}/quotas/{}",
            self.service(),
            self.code()
        )
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
