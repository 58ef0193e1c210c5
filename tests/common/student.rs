//! Hand-built setups: the VPC lab made with raw SDK calls, as a student clicks it together in the
//! console, right or with one of the mistakes the course notes warn about.

use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, InstanceNetworkInterfaceSpecification, IpPermission,
    IpRange, PortRange, ResourceType, RuleAction, Tag, TagSpecification, UserIdGroupPair,
};

/// (rule, egress, action, protocol, CIDR, ports) of one NACL entry.
type NaclEntry = (
    i32,
    bool,
    RuleAction,
    &'static str,
    &'static str,
    Option<(i32, i32)>,
);

/// What the student got wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Correct,
    /// The private route table sends 0.0.0.0/0 to the internet gateway.
    PrivateRouteToIgw,
    /// private-nacl allows SSH in but not the replies out (ephemeral ports).
    NaclWithoutReplyPorts,
    /// private-nacl denies SSH in rule 50, before the allow in rule 100.
    NaclDenyBeforeAllow,
    /// app-sg admits SSH from 0.0.0.0/0 instead of from bastion-sg.
    AppSgOpenToTheWorld,
    /// The bastion was launched in private-a.
    BastionInPrivateSubnet,
    /// The NAT gateway was created in private-a.
    NatInPrivateSubnet,
    /// The bastion was launched with an explicit network interface carrying its security
    /// group and a public IP, as the console does when a public IP is requested.
    BastionWithInterface,
}

/// Clears what a run that died left in the region: VPCs named `lab-vpc` and the key pair.
pub async fn clear(region: &str) {
    clear_as(region, "").await;
}

/// [`clear`] for a student who put `prefix` before every name.
pub async fn clear_as(region: &str, prefix: &str) {
    let ec2 = super::ec2_in(region).await;
    let vpc_name = format!("{prefix}lab-vpc");
    let stale = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("tag:Name").values(&vpc_name).build())
        .send()
        .await
        .expect("vpcs");
    for v in stale.vpcs().iter().filter(|v| {
        v.tags()
            .iter()
            .any(|t| t.value() == Some(vpc_name.as_str()))
    }) {
        delete_vpc_tree(region, v.vpc_id().expect("id")).await;
    }
    let _ = ec2
        .delete_key_pair()
        .key_name(format!("{prefix}lab-key"))
        .send()
        .await;
    // An instance that an emulator placed outside the VPC (one ignores an explicit network
    // interface and launches into its default VPC).
    let strays = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("tag:Name")
                .values(format!("{prefix}bastion"))
                .values(format!("{prefix}app"))
                .build(),
        )
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .values("stopped")
                .build(),
        )
        .send()
        .await
        .expect("instances");
    let ids: Vec<String> = strays
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect();
    if !ids.is_empty() {
        ec2.terminate_instances()
            .set_instance_ids(Some(ids))
            .send()
            .await
            .expect("terminate strays");
    }
}

/// Builds the VPC lab by hand in `region`, as a student would in the console (route tables
/// unnamed), with the variant's mistake. Returns the VPC id.
pub async fn build(region: &str, variant: Variant) -> String {
    build_as(region, variant, "").await
}

/// [`build`] by a student told to put `prefix` before every name (`alice-lab-vpc`,
/// `alice-app-sg`, `alice-lab-key`), as in an account several students share.
pub async fn build_as(region: &str, variant: Variant, prefix: &str) -> String {
    let ec2 = super::ec2_in(region).await;
    let named = |rt: ResourceType, name: &str| {
        TagSpecification::builder()
            .resource_type(rt)
            .tags(
                Tag::builder()
                    .key("Name")
                    .value(format!("{prefix}{name}"))
                    .build(),
            )
            .build()
    };
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .tag_specifications(named(ResourceType::Vpc, "lab-vpc"))
        .send()
        .await
        .expect("vpc");
    let vpc = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    ec2.modify_vpc_attribute()
        .vpc_id(&vpc)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .expect("dns");
    let azs = ec2.describe_availability_zones().send().await.expect("azs");
    let mut az_names: Vec<String> = azs
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_owned))
        .collect();
    az_names.sort();
    let subnet = |name: &'static str, cidr: &'static str, az: usize, public: bool| {
        let ec2 = ec2.clone();
        let vpc = vpc.clone();
        let az = az_names[az].clone();
        async move {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(az)
                .tag_specifications(named(ResourceType::Subnet, name))
                .send()
                .await
                .expect("subnet");
            let id = s
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_owned();
            if public {
                ec2.modify_subnet_attribute()
                    .subnet_id(&id)
                    .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
                    .send()
                    .await
                    .expect("map public ip");
            }
            id
        }
    };
    let public_a = subnet("public-a", "10.0.1.0/24", 0, true).await;
    let public_b = subnet("public-b", "10.0.2.0/24", 1, true).await;
    let private_a = subnet("private-a", "10.0.11.0/24", 0, false).await;
    let private_b = subnet("private-b", "10.0.12.0/24", 1, false).await;
    let igw = ec2
        .create_internet_gateway()
        .tag_specifications(named(ResourceType::InternetGateway, "lab-igw"))
        .send()
        .await
        .expect("igw");
    let igw = igw
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .expect("igw id")
        .to_owned();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .expect("attach");
    let public_rt = ec2
        .create_route_table()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("rt");
    let public_rt = public_rt
        .route_table()
        .and_then(|r| r.route_table_id())
        .expect("rt id")
        .to_owned();
    ec2.create_route()
        .route_table_id(&public_rt)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .expect("route");
    for s in [&public_a, &public_b] {
        ec2.associate_route_table()
            .route_table_id(&public_rt)
            .subnet_id(s)
            .send()
            .await
            .expect("assoc");
    }
    let eip = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .expect("eip");
    let alloc = eip.allocation_id().expect("alloc").to_owned();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(if variant == Variant::NatInPrivateSubnet {
            &private_a
        } else {
            &public_a
        })
        .allocation_id(&alloc)
        .tag_specifications(named(ResourceType::Natgateway, "lab-nat"))
        .send()
        .await
        .expect("nat");
    let nat = nat
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .expect("nat id")
        .to_owned();
    let private_rt = ec2
        .create_route_table()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("rt");
    let private_rt = private_rt
        .route_table()
        .and_then(|r| r.route_table_id())
        .expect("rt id")
        .to_owned();
    let mut route = ec2
        .create_route()
        .route_table_id(&private_rt)
        .destination_cidr_block("0.0.0.0/0");
    route = if variant == Variant::PrivateRouteToIgw {
        route.gateway_id(&igw)
    } else {
        route.nat_gateway_id(&nat)
    };
    route.send().await.expect("private route");
    for s in [&private_a, &private_b] {
        ec2.associate_route_table()
            .route_table_id(&private_rt)
            .subnet_id(s)
            .send()
            .await
            .expect("assoc");
    }
    let acl = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .tag_specifications(named(ResourceType::NetworkAcl, "private-nacl"))
        .send()
        .await
        .expect("acl");
    let acl = acl
        .network_acl()
        .and_then(|a| a.network_acl_id())
        .expect("acl id")
        .to_owned();
    let entry = |rule: i32,
                 egress: bool,
                 action: RuleAction,
                 proto: &str,
                 cidr: &str,
                 ports: Option<(i32, i32)>| {
        ec2.create_network_acl_entry()
            .network_acl_id(&acl)
            .rule_number(rule)
            .egress(egress)
            .protocol(proto)
            .rule_action(action)
            .cidr_block(cidr)
            .set_port_range(ports.map(|(a, b)| PortRange::builder().from(a).to(b).build()))
            .send()
    };
    let allow = RuleAction::Allow;
    let entries: Vec<NaclEntry> = match variant {
        // Inbound SSH is allowed, but outbound only HTTPS: the SSH replies have no rule.
        Variant::NaclWithoutReplyPorts => vec![
            (
                100,
                false,
                allow.clone(),
                "6",
                "10.0.0.0/16",
                Some((22, 22)),
            ),
            (
                200,
                false,
                allow.clone(),
                "6",
                "0.0.0.0/0",
                Some((1024, 65535)),
            ),
            (100, true, allow.clone(), "6", "0.0.0.0/0", Some((443, 443))),
        ],
        // The lab's rules, plus a deny numbered before the allow.
        Variant::NaclDenyBeforeAllow => vec![
            (
                50,
                false,
                RuleAction::Deny,
                "6",
                "0.0.0.0/0",
                Some((22, 22)),
            ),
            (100, false, allow.clone(), "-1", "10.0.0.0/16", None),
            (
                200,
                false,
                allow.clone(),
                "6",
                "0.0.0.0/0",
                Some((1024, 65535)),
            ),
            (100, true, allow.clone(), "-1", "0.0.0.0/0", None),
        ],
        _ => vec![
            (100, false, allow.clone(), "-1", "10.0.0.0/16", None),
            (
                200,
                false,
                allow.clone(),
                "6",
                "0.0.0.0/0",
                Some((1024, 65535)),
            ),
            (100, true, allow.clone(), "-1", "0.0.0.0/0", None),
        ],
    };
    for (rule, egress, action, proto, cidr, ports) in entries {
        entry(rule, egress, action, proto, cidr, ports)
            .await
            .expect("entry");
    }
    let current = ec2
        .describe_network_acls()
        .filters(
            Filter::builder()
                .name("association.subnet-id")
                .values(&private_a)
                .values(&private_b)
                .build(),
        )
        .send()
        .await
        .expect("acls");
    for a in current.network_acls().iter().flat_map(|a| a.associations()) {
        if [&private_a, &private_b]
            .iter()
            .any(|s| a.subnet_id() == Some(s.as_str()))
        {
            ec2.replace_network_acl_association()
                .association_id(a.network_acl_association_id().expect("assoc id"))
                .network_acl_id(&acl)
                .send()
                .await
                .expect("replace acl");
        }
    }
    let sg = |name: &'static str| {
        let ec2 = ec2.clone();
        let vpc = vpc.clone();
        let name = format!("{prefix}{name}");
        async move {
            let g = ec2
                .create_security_group()
                .group_name(&name)
                .description(&name)
                .vpc_id(&vpc)
                .send()
                .await
                .expect("sg");
            g.group_id().expect("sg id").to_owned()
        }
    };
    let bastion_sg = sg("bastion-sg").await;
    let app_sg = sg("app-sg").await;
    ec2.authorize_security_group_ingress()
        .group_id(&bastion_sg)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .expect("bastion rule");
    let app_rule = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22);
    let app_rule = if variant == Variant::AppSgOpenToTheWorld {
        app_rule.ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
    } else {
        app_rule.user_id_group_pairs(UserIdGroupPair::builder().group_id(&bastion_sg).build())
    };
    ec2.authorize_security_group_ingress()
        .group_id(&app_sg)
        .ip_permissions(app_rule.build())
        .send()
        .await
        .expect("app rule");
    // Named as the instructions say; each variant has its own region, so the names do not clash.
    let key = format!("{prefix}lab-key");
    ec2.create_key_pair()
        .key_name(&key)
        .tag_specifications(named(ResourceType::KeyPair, "lab-key"))
        .send()
        .await
        .expect("key");
    let image = "ami-12c6146b";
    let bastion_subnet = if variant == Variant::BastionInPrivateSubnet {
        &private_a
    } else {
        &public_a
    };
    for (name, subnet, group) in [
        ("bastion", bastion_subnet, &bastion_sg),
        ("app", &private_a, &app_sg),
    ] {
        let run = ec2
            .run_instances()
            .image_id(image)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .key_name(&key)
            .tag_specifications(named(ResourceType::Instance, name));
        let run = if variant == Variant::BastionWithInterface && name == "bastion" {
            run.network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .subnet_id(subnet)
                    .groups(group)
                    .associate_public_ip_address(true)
                    .build(),
            )
        } else {
            run.subnet_id(subnet).security_group_ids(group)
        };
        run.send().await.expect("instance");
    }
    vpc
}

/// Removes a hand-built VPC with awslab's own destroy engine, by handing it the VPC's contents.
pub async fn delete_vpc_tree(region: &str, vpc: &str) {
    let aws = awslab::aws::connect(&awslab::aws::AwsSettings {
        endpoint_url: Some(super::endpoint()),
        region: Some(region.to_owned()),
        local: true,
        ..Default::default()
    })
    .await;
    let kinds: Vec<awslab::lab::Kind> = awslab::lab::Kind::ALL
        .iter()
        .copied()
        .filter(|k| *k != awslab::lab::Kind::Vpc)
        .collect();
    let mut world = awslab::resources::World::default();
    world.merge(
        awslab::engine::discover::scope(
            &aws,
            &[awslab::lab::Kind::Vpc],
            &awslab::resources::Scope::Region,
        )
        .await
        .expect("vpcs")
        .into_iter()
        .filter(|v| v.id == vpc)
        .collect(),
    );
    world.merge(
        awslab::engine::discover::scope(
            &aws,
            &kinds,
            &awslab::resources::Scope::InVpcs(vec![vpc.to_owned()]),
        )
        .await
        .expect("inside"),
    );
    let doomed: Vec<_> = world
        .items
        .iter()
        .filter(|o| !o.is_vpc_default())
        .cloned()
        .collect();
    let opts = awslab::engine::EngineOptions {
        keys_dir: std::env::temp_dir(),
        ..Default::default()
    };
    let out = awslab::engine::destroy::destroy_set(
        &aws,
        &awslab::aws::tags::Owner::new("hand-built", "none"),
        &world,
        doomed,
        &opts,
        &awslab::engine::events::Silent,
    )
    .await
    .expect("destroy");
    assert!(out.left.is_empty(), "cleanup left {:?}", out.left);
}
