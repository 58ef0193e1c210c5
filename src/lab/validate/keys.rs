//! The keys each kind takes, and the keys a resource table has (with their places).

use super::*;

/// The services a gateway VPC endpoint serves (`service` of a `vpc_endpoint`).
pub(super) const GATEWAY_SERVICES: &[&str] = &["s3", "dynamodb"];

/// Keys each kind takes beyond `type`, `stage` and `description`.
pub(super) fn allowed_keys(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Vpc => &["cidr", "dns_hostnames"],
        Kind::Subnet => &["vpc", "cidr", "az", "map_public_ip"],
        Kind::InternetGateway => &["vpc"],
        Kind::VpcEndpoint => &["vpc", "service", "route_tables"],
        Kind::RouteTable => &["vpc", "subnets", "routes"],
        Kind::ElasticIp => &[],
        Kind::NatGateway => &["subnet", "eip"],
        Kind::NetworkAcl => &["vpc", "subnets", "inbound", "outbound"],
        Kind::SecurityGroup => &["vpc", "ingress", "egress"],
        Kind::KeyPair => &[],
        Kind::Instance => &[
            "subnet",
            "ami",
            "instance_type",
            "security_groups",
            "key",
            "instance_profile",
            "user_data",
        ],
        Kind::IamRole => &["service", "managed_policies"],
        Kind::InstanceProfile => &["role"],
        Kind::FileSystem => &["encrypted", "performance_mode", "transition_to_ia"],
        Kind::MountTarget => &["file_system", "subnet", "security_groups"],
        Kind::LaunchTemplate => &[
            "ami",
            "instance_type",
            "security_groups",
            "instance_profile",
            "user_data",
        ],
        Kind::TargetGroup => &["vpc", "protocol", "port", "health_check_path"],
        Kind::LoadBalancer => &["subnets", "security_groups", "scheme"],
        Kind::Listener => &["load_balancer", "protocol", "port", "target_group"],
        Kind::AutoScalingGroup => &[
            "launch_template",
            "subnets",
            "min_size",
            "max_size",
            "desired_capacity",
            "target_groups",
            "health_check_type",
        ],
        Kind::ScalingPolicy => &["auto_scaling_group", "target_cpu"],
        Kind::Bucket => &[
            "versioning",
            "bucket_key",
            "object_ownership",
            "block_public_acls",
            "ignore_public_acls",
            "block_public_policy",
            "restrict_public_buckets",
        ],
        Kind::BucketPolicy => &["bucket", "public_read"],
        Kind::Website => &["bucket", "index_document", "error_document"],
        Kind::Objects => &["bucket", "source"],
        Kind::Repository => &[
            "repository_name",
            "scan_on_push",
            "tag_mutability",
            "expire_untagged_after_days",
            "keep_last_tagged",
            "tag_prefix",
        ],
        Kind::Image => &["repository", "tag", "source"],
    }
}

pub(super) fn instance_type(d: &ResourceDef) -> String {
    d.instance_type
        .as_ref()
        .map_or_else(|| "t3.micro".to_owned(), |t| t.get_ref().clone())
}

/// EFS lifecycle transitions (`TransitionToIA`).
pub(super) const IA_TRANSITIONS: &[&str] = &[
    "AFTER_1_DAY",
    "AFTER_7_DAYS",
    "AFTER_14_DAYS",
    "AFTER_30_DAYS",
    "AFTER_60_DAYS",
    "AFTER_90_DAYS",
    "AFTER_180_DAYS",
    "AFTER_270_DAYS",
    "AFTER_365_DAYS",
];

/// The keys present in a resource table, with their spans.
pub(super) fn present_keys(d: &ResourceDef) -> Vec<(&'static str, Range<usize>)> {
    fn span<T>(s: &Spanned<T>) -> Range<usize> {
        s.span()
    }
    fn list<T>(l: &[Spanned<T>]) -> Range<usize> {
        match (l.first(), l.last()) {
            (Some(a), Some(b)) => a.span().start..b.span().end,
            _ => 0..0,
        }
    }
    let mut out = Vec::new();
    let mut add = |k: &'static str, s: Option<Range<usize>>| {
        if let Some(s) = s {
            out.push((k, s));
        }
    };
    add("vpc", d.vpc.as_ref().map(span));
    add("subnet", d.subnet.as_ref().map(span));
    add("subnets", d.subnets.as_deref().map(list));
    add("cidr", d.cidr.as_ref().map(span));
    add("az", d.az.as_ref().map(span));
    add("dns_hostnames", d.dns_hostnames.as_ref().map(span));
    add("map_public_ip", d.map_public_ip.as_ref().map(span));
    add("routes", d.routes.as_deref().map(list));
    add("eip", d.eip.as_ref().map(span));
    add("inbound", d.inbound.as_deref().map(list));
    add("outbound", d.outbound.as_deref().map(list));
    add("ingress", d.ingress.as_deref().map(list));
    add("egress", d.egress.as_deref().map(list));
    add("ami", d.ami.as_ref().map(span));
    add("instance_type", d.instance_type.as_ref().map(span));
    add("security_groups", d.security_groups.as_deref().map(list));
    add("key", d.key.as_ref().map(span));
    add("instance_profile", d.instance_profile.as_ref().map(span));
    add("user_data", d.user_data.as_ref().map(span));
    add("service", d.service.as_ref().map(span));
    add("route_tables", d.route_tables.as_deref().map(list));
    add("managed_policies", d.managed_policies.as_deref().map(list));
    add("role", d.role.as_ref().map(span));
    add("encrypted", d.encrypted.as_ref().map(span));
    add("performance_mode", d.performance_mode.as_ref().map(span));
    add("transition_to_ia", d.transition_to_ia.as_ref().map(span));
    add("file_system", d.file_system.as_ref().map(span));
    add("protocol", d.protocol.as_ref().map(span));
    add("port", d.port.as_ref().map(span));
    add("health_check_path", d.health_check_path.as_ref().map(span));
    add("scheme", d.scheme.as_ref().map(span));
    add("load_balancer", d.load_balancer.as_ref().map(span));
    add("target_group", d.target_group.as_ref().map(span));
    add("target_groups", d.target_groups.as_deref().map(list));
    add("launch_template", d.launch_template.as_ref().map(span));
    add("min_size", d.min_size.as_ref().map(span));
    add("max_size", d.max_size.as_ref().map(span));
    add("desired_capacity", d.desired_capacity.as_ref().map(span));
    add("health_check_type", d.health_check_type.as_ref().map(span));
    add(
        "auto_scaling_group",
        d.auto_scaling_group.as_ref().map(span),
    );
    add("target_cpu", d.target_cpu.as_ref().map(span));
    add("versioning", d.versioning.as_ref().map(span));
    add("bucket_key", d.bucket_key.as_ref().map(span));
    add("object_ownership", d.object_ownership.as_ref().map(span));
    add("block_public_acls", d.block_public_acls.as_ref().map(span));
    add(
        "ignore_public_acls",
        d.ignore_public_acls.as_ref().map(span),
    );
    add(
        "block_public_policy",
        d.block_public_policy.as_ref().map(span),
    );
    add(
        "restrict_public_buckets",
        d.restrict_public_buckets.as_ref().map(span),
    );
    add("bucket", d.bucket.as_ref().map(span));
    add("public_read", d.public_read.as_ref().map(span));
    add("index_document", d.index_document.as_ref().map(span));
    add("error_document", d.error_document.as_ref().map(span));
    add("source", d.source.as_ref().map(span));
    add("repository_name", d.repository_name.as_ref().map(span));
    add("scan_on_push", d.scan_on_push.as_ref().map(span));
    add("tag_mutability", d.tag_mutability.as_ref().map(span));
    add(
        "expire_untagged_after_days",
        d.expire_untagged_after_days.as_ref().map(span),
    );
    add("keep_last_tagged", d.keep_last_tagged.as_ref().map(span));
    add("tag_prefix", d.tag_prefix.as_ref().map(span));
    add("repository", d.repository.as_ref().map(span));
    add("tag", d.tag.as_ref().map(span));
    out
}
