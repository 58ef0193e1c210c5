//! The resource kinds, in one list: each line names a kind's variant, its name in lab files and
//! JSON, its name in messages, and its module with the three types it defines there: the
//! handler ([`ResourceKind`]), its spec (what a lab file declares) and its facts (what AWS
//! says). [`Kind`], its names and keys, the handler lookup, and the [`Spec`], [`Keys`] and
//! [`Facts`] enums with their dispatch are all generated from this list, so a kind is its file
//! plus one line here; what a kind knows about itself is asked of its types, and the traits have
//! no default for what every kind must decide.

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::{KindFacts, KindSpec, ResourceKind, SpecOf};
use crate::lab::model::ResourceDef;
use crate::lab::validate::{ParseSpec, SpecCx, spec_keys};

macro_rules! kinds {
    ($($variant:ident => $name:literal, $label:literal, $module:ident: $handler:ident, $spec:ident, $facts:ident;)*) => {
        $(pub use super::$module::{$spec, $facts};)*

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

            /// The keys a table of the kind takes in a lab file besides `type` and `stage`
            /// (a kind may read `description`, which every table may hold, as its own).
            pub fn keys(self) -> &'static [&'static str] {
                match self {
                    $(Kind::$variant => spec_keys::<$spec>(),)*
                }
            }

            /// The JSON Schema of the kind's keys (its keys struct, doc comments as
            /// descriptions); nested types go to the generator's definitions.
            pub fn keys_schema(self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                match self {
                    $(Kind::$variant => <<$spec as ParseSpec>::Keys as schemars::JsonSchema>::json_schema(generator),)*
                }
            }

            /// The handler of the kind.
            pub fn handler(self) -> &'static dyn ResourceKind {
                match self {
                    $(Kind::$variant => &super::$module::$handler,)*
                }
            }
        }

        $(impl SpecOf for $spec {
            const KIND: Kind = Kind::$variant;

            fn of(spec: &Spec) -> Option<&Self> {
                match spec {
                    Spec::$variant(s) => Some(s),
                    _ => None,
                }
            }
        })*

        /// What a resource must be, as its lab file declares it (references as logical names):
        /// one variant per kind, each holding the kind's own spec type.
        #[derive(Debug, Clone)]
        pub enum Spec {
            $($variant($spec),)*
        }

        impl Spec {
            /// A resource's spec, parsed by its kind from its keys; `None` when the keys
            /// could not be read (the parser said why).
            pub(crate) fn parse(
                cx: &mut SpecCx<'_, '_, '_>,
                name: &Spanned<String>,
                def: &ResourceDef,
            ) -> Option<Spec> {
                match def.keys.as_ref()? {
                    $(Keys::$variant(k) => Some(Spec::$variant(<$spec as ParseSpec>::parse(cx, name, k))),)*
                }
            }

            pub fn kind(&self) -> Kind {
                match self {
                    $(Spec::$variant(_) => Kind::$variant,)*
                }
            }

            /// Every logical name this resource depends on (the edges of the graph).
            pub fn refs(&self) -> Vec<&str> {
                self.of_kind().refs()
            }

            /// The kind's own spec, behind the one trait every spec type implements.
            pub fn of_kind(&self) -> &dyn KindSpec {
                match self {
                    $(Spec::$variant(s) => s,)*
                }
            }
        }

        /// The keys of a resource table, as its kind reads them: one variant per kind.
        #[derive(Debug)]
        pub enum Keys {
            $($variant(<$spec as ParseSpec>::Keys),)*
        }

        impl Keys {
            /// The keys of a table of `kind` that gives none.
            pub fn empty(kind: Kind) -> Keys {
                match kind {
                    $(Kind::$variant => Keys::$variant(Default::default()),)*
                }
            }

            /// A resource table of `kind`, every value with its span.
            pub fn parse(kind: Kind, table: Spanned<DeValue<'_>>) -> Result<Keys, toml::de::Error> {
                Ok(match kind {
                    $(Kind::$variant => Keys::$variant(<$spec as ParseSpec>::Keys::deserialize(
                        ValueDeserializer::from(table),
                    )?),)*
                })
            }
        }

        /// What AWS says of a resource: one variant per kind, each holding the kind's own facts
        /// type. JSON names the kind in `kind`.
        #[derive(Debug, Clone, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum Facts {
            $($variant($facts),)*
        }

        impl Facts {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Facts::$variant(_) => Kind::$variant,)*
                }
            }

            /// The kind's own facts, behind the one trait every facts type implements.
            pub fn of_kind(&self) -> &dyn KindFacts {
                match self {
                    $(Facts::$variant(f) => f,)*
                }
            }
        }
    };
}

kinds! {
    Vpc => "vpc", "VPC", vpc: Vpc, VpcSpec, VpcFacts;
    Subnet => "subnet", "subnet", subnet: Subnet, SubnetSpec, SubnetFacts;
    InternetGateway => "internet_gateway", "internet gateway", internet_gateway: InternetGateway, InternetGatewaySpec, InternetGatewayFacts;
    RouteTable => "route_table", "route table", route_table: RouteTable, RouteTableSpec, RouteTableFacts;
    VpcEndpoint => "vpc_endpoint", "VPC endpoint", vpc_endpoint: VpcEndpoint, VpcEndpointSpec, VpcEndpointFacts;
    ElasticIp => "elastic_ip", "elastic IP", elastic_ip: ElasticIp, ElasticIpSpec, ElasticIpFacts;
    NatGateway => "nat_gateway", "NAT gateway", nat_gateway: NatGateway, NatGatewaySpec, NatGatewayFacts;
    NetworkAcl => "network_acl", "network ACL", network_acl: NetworkAcl, NetworkAclSpec, NetworkAclFacts;
    SecurityGroup => "security_group", "security group", security_group: SecurityGroup, SecurityGroupSpec, SecurityGroupFacts;
    KeyPair => "key_pair", "key pair", key_pair: KeyPair, KeyPairSpec, KeyPairFacts;
    Instance => "instance", "instance", instance: Instance, InstanceSpec, InstanceFacts;
    EbsVolume => "ebs_volume", "EBS volume", ebs_volume: EbsVolume, EbsVolumeSpec, EbsVolumeFacts;
    Ami => "ami", "image (AMI)", ami: Ami, AmiSpec, AmiFacts;
    EbsSnapshot => "ebs_snapshot", "EBS snapshot", ebs_snapshot: EbsSnapshot, EbsSnapshotSpec, EbsSnapshotFacts;
    IamRole => "iam_role", "IAM role", iam: IamRole, IamRoleSpec, IamRoleFacts;
    InstanceProfile => "instance_profile", "instance profile", iam: InstanceProfile, InstanceProfileSpec, InstanceProfileFacts;
    FileSystem => "efs_file_system", "EFS file system", efs: FileSystem, FileSystemSpec, FileSystemFacts;
    MountTarget => "efs_mount_target", "EFS mount target", efs: MountTarget, MountTargetSpec, MountTargetFacts;
    LaunchTemplate => "launch_template", "launch template", launch_template: LaunchTemplate, LaunchTemplateSpec, LaunchTemplateFacts;
    TargetGroup => "target_group", "target group", elbv2: TargetGroup, TargetGroupSpec, TargetGroupFacts;
    LoadBalancer => "load_balancer", "load balancer", elbv2: LoadBalancer, LoadBalancerSpec, LoadBalancerFacts;
    Listener => "listener", "listener", elbv2: Listener, ListenerSpec, ListenerFacts;
    AutoScalingGroup => "auto_scaling_group", "Auto Scaling group", autoscaling: AutoScalingGroup, AutoScalingGroupSpec, AutoScalingGroupFacts;
    ScalingPolicy => "scaling_policy", "scaling policy", autoscaling: ScalingPolicy, ScalingPolicySpec, ScalingPolicyFacts;
    Bucket => "s3_bucket", "S3 bucket", s3: Bucket, BucketSpec, BucketFacts;
    BucketPolicy => "s3_bucket_policy", "bucket policy", s3: BucketPolicy, BucketPolicySpec, BucketPolicyFacts;
    Website => "s3_website_config", "website configuration", s3: Website, WebsiteSpec, WebsiteFacts;
    Objects => "s3_objects", "set of S3 objects", s3: Objects, ObjectsSpec, ObjectsFacts;
    Repository => "ecr_repository", "ECR repository", ecr: Repository, RepositorySpec, RepositoryFacts;
    Image => "ecr_image", "ECR image", ecr: Image, ImageSpec, ImageFacts;
    LogGroup => "log_group", "log group", log_group: LogGroup, LogGroupSpec, LogGroupFacts;
    EcsCluster => "ecs_cluster", "ECS cluster", ecs: EcsCluster, EcsClusterSpec, EcsClusterFacts;
    EcsTaskDefinition => "ecs_task_definition", "ECS task definition", ecs: EcsTaskDefinition, EcsTaskDefinitionSpec, EcsTaskDefinitionFacts;
    EcsService => "ecs_service", "ECS service", ecs: EcsService, EcsServiceSpec, EcsServiceFacts;
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

/// How `check` looks for a kind's resources in an account it may not have made them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The VPCs themselves, by the names the lab gives them (and the env's own by tags):
    /// everything in them is looked for inside them.
    Vpc,
    /// Listed inside the lab's VPCs: `always`, or only when the lab declares the kind.
    InVpcs { always: bool },
    /// Listed in the whole region when the lab declares the kind or one of `with`.
    Region { with: &'static [Kind] },
    /// The env's own (by tags or path) and hand-built ones by name, when the lab declares the
    /// kind: the names the lab gives them, or that the kind derives from the lab
    /// ([`ResourceKind::lookup_names`]: a bucket's name in this account, a repository's).
    Named,
    /// Listed with the resource it belongs to.
    WithParent,
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
    use super::{Kind, Lookup, Placement};

    #[test]
    fn every_kind_answers_the_registry_and_its_answers_agree() {
        let mut names = std::collections::BTreeSet::new();
        for &k in Kind::ALL {
            assert_eq!(k.handler().kind(), k, "{k:?}: handler of another kind");
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert!(names.insert(k.as_str()), "{k:?}: name used twice");
            assert!(!k.label().is_empty());
            // How check looks for it agrees with where it lives.
            let lookup = k.handler().lookup();
            match k.handler().placement() {
                Placement::InVpc => assert!(
                    matches!(lookup, Lookup::Vpc | Lookup::InVpcs { .. }),
                    "{k:?}: in a VPC, looked for as {lookup:?}"
                ),
                Placement::Regional => assert!(
                    matches!(lookup, Lookup::Region { .. } | Lookup::Named),
                    "{k:?}: regional, looked for as {lookup:?}"
                ),
                Placement::Global => assert_eq!(lookup, Lookup::Named, "{k:?}"),
                Placement::Child(_) => assert_eq!(lookup, Lookup::WithParent, "{k:?}"),
            }
            // Its keys are read from its keys struct, and none is a key every table has.
            for key in k.keys() {
                assert!(
                    !["type", "stage"].contains(key),
                    "{k:?}: takes `{key}` as its own"
                );
            }
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
