//! The resource kinds, in one list: each line names a kind's variant, its name in lab files and
//! JSON, its name in messages, and the type that handles it ([`ResourceKind`]). [`Kind`], its
//! names and the handler lookup are all generated from this list, so a kind is one line here
//! plus its handler; what a kind knows about itself (where it lives, how it is tagged later)
//! is asked of the handler, whose trait has no default for it.

use super::ResourceKind;

macro_rules! kinds {
    ($($variant:ident => $name:literal, $label:literal, $handler:expr;)*) => {
        /// The resource kinds a lab can declare. JSON names a kind as lab files do
        /// (`s3_bucket`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($variant,)*
        }

        impl Kind {
            /// Every kind, in the order of the list.
            pub const ALL: &[Kind] = &[$(Kind::$variant,)*];

            /// The kind's name in lab files and JSON (`s3_bucket`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)*
                }
            }

            /// Human name for messages ("NAT gateway").
            pub fn label(self) -> &'static str {
                match self {
                    $(Kind::$variant => $label,)*
                }
            }

            /// The handler of the kind.
            pub fn handler(self) -> &'static dyn ResourceKind {
                match self {
                    $(Kind::$variant => &$handler,)*
                }
            }
        }
    };
}

kinds! {
    Vpc => "vpc", "VPC", super::vpc::Vpc;
    Subnet => "subnet", "subnet", super::subnet::Subnet;
    InternetGateway => "internet_gateway", "internet gateway", super::internet_gateway::InternetGateway;
    RouteTable => "route_table", "route table", super::route_table::RouteTable;
    VpcEndpoint => "vpc_endpoint", "VPC endpoint", super::vpc_endpoint::VpcEndpoint;
    ElasticIp => "elastic_ip", "elastic IP", super::elastic_ip::ElasticIp;
    NatGateway => "nat_gateway", "NAT gateway", super::nat_gateway::NatGateway;
    NetworkAcl => "network_acl", "network ACL", super::network_acl::NetworkAcl;
    SecurityGroup => "security_group", "security group", super::security_group::SecurityGroup;
    KeyPair => "key_pair", "key pair", super::key_pair::KeyPair;
    Instance => "instance", "instance", super::instance::Instance;
    IamRole => "iam_role", "IAM role", super::iam::IamRole;
    InstanceProfile => "instance_profile", "instance profile", super::iam::InstanceProfile;
    FileSystem => "efs_file_system", "EFS file system", super::efs::FileSystem;
    MountTarget => "efs_mount_target", "EFS mount target", super::efs::MountTarget;
    LaunchTemplate => "launch_template", "launch template", super::launch_template::LaunchTemplate;
    TargetGroup => "target_group", "target group", super::elbv2::TargetGroup;
    LoadBalancer => "load_balancer", "load balancer", super::elbv2::LoadBalancer;
    Listener => "listener", "listener", super::elbv2::Listener;
    AutoScalingGroup => "auto_scaling_group", "Auto Scaling group", super::autoscaling::AutoScalingGroup;
    ScalingPolicy => "scaling_policy", "scaling policy", super::autoscaling::ScalingPolicy;
    Bucket => "s3_bucket", "S3 bucket", super::s3::Bucket;
    BucketPolicy => "s3_bucket_policy", "bucket policy", super::s3::BucketPolicy;
    Website => "s3_website_config", "website configuration", super::s3::Website;
    Objects => "s3_objects", "set of S3 objects", super::s3::Objects;
    Repository => "ecr_repository", "ECR repository", super::ecr::Repository;
    Image => "ecr_image", "ECR image", super::ecr::Image;
}

/// Where a kind's resources live, which decides how they are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Inside a VPC (or the VPC itself): found through the VPC.
    InVpc,
    /// In the region, outside any VPC (Elastic IPs, key pairs, file systems, buckets).
    Regional,
    /// In the account, for every region (IAM).
    Global,
    /// Part of a resource of another kind, listed with it (a load balancer's listeners).
    Child(Kind),
}

/// How `up --ttl` adds a tag to a resource of a kind that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamped {
    /// The kind tagged it through its own service.
    Done,
    /// An EC2 resource: its id goes into one batched `ec2:CreateTags` with the others.
    Ec2,
    /// It carries no tags of its own: its parent's stamp covers it.
    WithParent,
}

#[cfg(test)]
mod tests {
    use super::{Kind, Placement};

    #[test]
    fn every_kind_has_its_handler_names_and_a_placement_that_holds() {
        let mut names = std::collections::BTreeSet::new();
        for &k in Kind::ALL {
            assert_eq!(k.handler().kind(), k, "{k:?}: handler of another kind");
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert!(names.insert(k.as_str()), "{k:?}: name used twice");
            assert!(!k.label().is_empty());
            if let Placement::Child(parent) = k.handler().placement() {
                assert!(
                    !matches!(parent.handler().placement(), Placement::Child(_)),
                    "{k:?}: a child of a child"
                );
                assert_ne!(parent, k);
            }
        }
    }
}
