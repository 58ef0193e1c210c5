//! End to end against a real emulator process: up -> check -> up again -> down, a student-built
//! VPC made with raw SDK calls, and a broken one. Each test has its own env, so they run in
//! parallel on one emulator.

mod common;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, IpPermission, PortRange, ResourceType, RuleAction,
    Tag, TagSpecification, UserIdGroupPair,
};
use serde_json::Value;

/// The lab the full cycle runs: the VPC lab, or the reduced one where the emulator lacks NAT
/// addresses, NACL associations and key-pair tags (MiniStack).
fn cycle_lab() -> String {
    if common::emulator() == "ministack" {
        common::root()
            .join("tests/labs/vpc-basic.toml")
            .display()
            .to_string()
    } else {
        "vpc-public-private".to_owned()
    }
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// Everything still carrying `awslab:env = env` (filtered client-side too: one emulator ignores
/// some filters). Terminated instances and deleted NAT gateways are history, not resources.
async fn tagged_left(env: &str) -> Vec<String> {
    let ec2 = common::ec2().await;
    let f = || tag_filter("awslab:env", env);
    // (id, tags, still alive) of every kind.
    let mut all: Vec<(Option<String>, Vec<Tag>, bool)> = Vec::new();
    let own = |id: Option<&str>, tags: &[Tag]| (id.map(str::to_owned), tags.to_vec(), true);
    let out = ec2.describe_vpcs().filters(f()).send().await.expect("vpcs");
    all.extend(out.vpcs().iter().map(|x| own(x.vpc_id(), x.tags())));
    let out = ec2
        .describe_subnets()
        .filters(f())
        .send()
        .await
        .expect("subnets");
    all.extend(out.subnets().iter().map(|x| own(x.subnet_id(), x.tags())));
    let out = ec2
        .describe_security_groups()
        .filters(f())
        .send()
        .await
        .expect("sgs");
    all.extend(
        out.security_groups()
            .iter()
            .map(|x| own(x.group_id(), x.tags())),
    );
    let out = ec2
        .describe_route_tables()
        .filters(f())
        .send()
        .await
        .expect("rts");
    all.extend(
        out.route_tables()
            .iter()
            .map(|x| own(x.route_table_id(), x.tags())),
    );
    let out = ec2
        .describe_internet_gateways()
        .filters(f())
        .send()
        .await
        .expect("igws");
    all.extend(
        out.internet_gateways()
            .iter()
            .map(|x| own(x.internet_gateway_id(), x.tags())),
    );
    let out = ec2
        .describe_network_acls()
        .filters(f())
        .send()
        .await
        .expect("acls");
    all.extend(
        out.network_acls()
            .iter()
            .map(|x| own(x.network_acl_id(), x.tags())),
    );
    let out = ec2
        .describe_addresses()
        .filters(f())
        .send()
        .await
        .expect("eips");
    all.extend(
        out.addresses()
            .iter()
            .map(|x| own(x.allocation_id(), x.tags())),
    );
    let out = ec2
        .describe_key_pairs()
        .filters(f())
        .send()
        .await
        .expect("keys");
    all.extend(out.key_pairs().iter().map(|x| own(x.key_name(), x.tags())));
    let out = ec2
        .describe_nat_gateways()
        .filter(f())
        .send()
        .await
        .expect("nats");
    all.extend(out.nat_gateways().iter().map(|n| {
        let alive = n.state().is_some_and(|s| s.as_str() != "deleted");
        (
            n.nat_gateway_id().map(str::to_owned),
            n.tags().to_vec(),
            alive,
        )
    }));
    let out = ec2
        .describe_instances()
        .filters(f())
        .send()
        .await
        .expect("instances");
    all.extend(
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                let alive = i
                    .state()
                    .and_then(|s| s.name())
                    .is_some_and(|s| s.as_str() != "terminated");
                (i.instance_id().map(str::to_owned), i.tags().to_vec(), alive)
            }),
    );
    all.into_iter()
        .filter(|(_, tags, alive)| {
            *alive
                && tags
                    .iter()
                    .any(|t| t.key() == Some("awslab:env") && t.value() == Some(env))
        })
        .filter_map(|(id, _, _)| id)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_check_up_again_down_leaves_nothing() {
    let env = common::env_name("cycle");
    let home = tempfile::tempdir().expect("home");
    let lab = cycle_lab();

    let up = common::awslab(home.path())
        .args(["--format", "json", "--env", &env, "up", &lab, "--yes"])
        .output()
        .expect("up");
    assert!(
        up.status.success(),
        "up failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let first = json(&up);
    let created = first["resources"].as_array().expect("resources");
    assert!(!created.is_empty());
    assert!(created.iter().all(|r| r["action"] == "create"), "{first}");

    let check = common::awslab(home.path())
        .args(["--format", "json", "--env", &env, "check", &lab])
        .output()
        .expect("check");
    let report = json(&check);
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] != "pass")
        .collect();
    assert!(failed.is_empty(), "checks failed after up: {failed:#?}");
    assert_eq!(report["score"], report["max_score"]);
    assert_eq!(check.status.code(), Some(0));

    let again = common::awslab(home.path())
        .args(["--format", "json", "--env", &env, "up", &lab, "--yes"])
        .output()
        .expect("up again");
    assert!(
        again.status.success(),
        "second up failed: {}",
        String::from_utf8_lossy(&again.stderr)
    );
    let second = json(&again);
    let changed: Vec<&Value> = second["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["action"] != "keep")
        .collect();
    assert!(changed.is_empty(), "second up changed: {changed:#?}");

    let down = common::awslab(home.path())
        .args(["--env", &env, "down", &lab, "--yes"])
        .output()
        .expect("down");
    assert!(
        down.status.success(),
        "down failed: {}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert_eq!(tagged_left(&env).await, Vec::<String>::new());

    // down again: nothing to do, still success.
    let again = common::awslab(home.path())
        .args(["--env", &env, "down", &lab, "--yes"])
        .output()
        .expect("down again");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 deleted, 0 left"));
}

#[tokio::test(flavor = "multi_thread")]
async fn down_spares_other_envs_and_untagged_vpcs() {
    let env_a = common::env_name("keep-a");
    let env_b = common::env_name("keep-b");
    let home = tempfile::tempdir().expect("home");
    let lab = common::root()
        .join("tests/labs/vpc-basic.toml")
        .display()
        .to_string();
    for env in [&env_a, &env_b] {
        common::awslab(home.path())
            .args(["--env", env, "up", &lab, "--yes"])
            .assert()
            .success();
    }
    let ec2 = common::ec2().await;
    let untagged = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Vpc)
                .tags(Tag::builder().key("Name").value("lab-vpc").build())
                .build(),
        )
        .send()
        .await
        .expect("untagged vpc");
    let untagged_id = untagged
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("id")
        .to_owned();

    common::awslab(home.path())
        .args(["--env", &env_a, "down", &lab, "--yes"])
        .assert()
        .success();
    assert!(tagged_left(&env_a).await.is_empty());
    assert!(
        !tagged_left(&env_b).await.is_empty(),
        "env b must survive env a's down"
    );
    let still = ec2
        .describe_vpcs()
        .vpc_ids(&untagged_id)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        still.vpcs().len(),
        1,
        "the untagged VPC named lab-vpc must survive"
    );

    common::awslab(home.path())
        .args(["--env", &env_b, "down", &lab, "--yes"])
        .assert()
        .success();
    assert!(tagged_left(&env_b).await.is_empty());
    ec2.delete_vpc()
        .vpc_id(&untagged_id)
        .send()
        .await
        .expect("cleanup");
}

/// Builds the VPC lab by hand, as a student would in the console: route tables unnamed.
/// `broken`: the private route table sends 0.0.0.0/0 to the internet gateway.
async fn build_student_vpc(broken: bool) -> String {
    let ec2 = common::ec2_in(STUDENT_REGION).await;
    let named = |rt: ResourceType, name: &str| {
        TagSpecification::builder()
            .resource_type(rt)
            .tags(Tag::builder().key("Name").value(name).build())
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
        .subnet_id(&public_a)
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
    route = if broken {
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
    let entry = |rule: i32, egress: bool, proto: &str, cidr: &str, ports: Option<(i32, i32)>| {
        ec2.create_network_acl_entry()
            .network_acl_id(&acl)
            .rule_number(rule)
            .egress(egress)
            .protocol(proto)
            .rule_action(RuleAction::Allow)
            .cidr_block(cidr)
            .set_port_range(ports.map(|(a, b)| PortRange::builder().from(a).to(b).build()))
            .send()
    };
    entry(100, false, "-1", "10.0.0.0/16", None)
        .await
        .expect("entry");
    entry(200, false, "6", "0.0.0.0/0", Some((1024, 65535)))
        .await
        .expect("entry");
    entry(100, true, "-1", "0.0.0.0/0", None)
        .await
        .expect("entry");
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
        async move {
            let g = ec2
                .create_security_group()
                .group_name(name)
                .description(name)
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
    ec2.authorize_security_group_ingress()
        .group_id(&app_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&bastion_sg).build())
                .build(),
        )
        .send()
        .await
        .expect("app rule");
    // Named as the instructions say; key names are unique per region, so the two variants run one
    // after the other and each deletes its key.
    let key = "lab-key".to_owned();
    ec2.create_key_pair()
        .key_name(&key)
        .tag_specifications(named(ResourceType::KeyPair, "lab-key"))
        .send()
        .await
        .expect("key");
    let image = "ami-12c6146b";
    for (name, subnet, group) in [
        ("bastion", &public_a, &bastion_sg),
        ("app", &private_a, &app_sg),
    ] {
        ec2.run_instances()
            .image_id(image)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .subnet_id(subnet)
            .security_group_ids(group)
            .key_name(&key)
            .tag_specifications(named(ResourceType::Instance, name))
            .send()
            .await
            .expect("instance");
    }
    vpc
}

async fn delete_key() {
    let ec2 = common::ec2_in(STUDENT_REGION).await;
    ec2.delete_key_pair()
        .key_name("lab-key")
        .send()
        .await
        .expect("delete key");
}

/// Student setups are built in their own region, so their VPC named `lab-vpc` is the only one
/// there while other tests run in parallel.
const STUDENT_REGION: &str = "eu-west-1";

/// What MiniStack 1.5.33 cannot represent (localstack/README.md): NACL entry port ranges and
/// subnet associations, NAT gateway addresses (so the NAT's EIP cannot be found through it). These items fail there for that reason alone.
fn emulator_gaps() -> &'static [&'static str] {
    if common::emulator() == "ministack" {
        &[
            "private-nacl",
            "private-nacl.inbound",
            "private-nacl.subnets",
            "lab-nat.eip",
            "nat-eip",
            "private-egress",
        ]
    } else {
        &[]
    }
}

async fn check_student(env: &str) -> (Option<i32>, Vec<(String, String)>) {
    let home = tempfile::tempdir().expect("home");
    let out = common::awslab(home.path())
        .args([
            "--format",
            "json",
            "--region",
            STUDENT_REGION,
            "--env",
            env,
            "check",
            "vpc-public-private",
        ])
        .output()
        .expect("check");
    let report = json(&out);
    let failed = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (out.status.code(), failed)
}

/// Student setups live in their own region so that their VPC named `lab-vpc` is the only one.
#[tokio::test(flavor = "multi_thread")]
async fn student_setups_are_graded_by_name_and_relations() {
    // One test for both variants: both VPCs are named `lab-vpc`, so they are graded one at a time.
    // A run that died halfway leaves its setup behind on a long-lived emulator: clear it first.
    let ec2 = common::ec2_in(STUDENT_REGION).await;
    let stale = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("tag:Name").values("lab-vpc").build())
        .send()
        .await
        .expect("vpcs");
    for v in stale
        .vpcs()
        .iter()
        .filter(|v| v.tags().iter().any(|t| t.value() == Some("lab-vpc")))
    {
        delete_vpc_tree(v.vpc_id().expect("id")).await;
    }
    let _ = ec2.delete_key_pair().key_name("lab-key").send().await;
    let vpc = build_student_vpc(false).await;
    let (code, failed) = check_student("student").await;
    let unexpected: Vec<&(String, String)> = failed
        .iter()
        .filter(|(id, _)| !emulator_gaps().contains(&id.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "a correct student setup failed: {unexpected:#?}"
    );
    if emulator_gaps().is_empty() {
        assert_eq!(code, Some(0));
    }
    delete_vpc_tree(&vpc).await;
    delete_key().await;

    let vpc = build_student_vpc(true).await;
    let (code, failed) = check_student("student").await;
    assert_eq!(code, Some(1));
    let ids: Vec<&str> = failed.iter().map(|(id, _)| id.as_str()).collect();
    for must in ["private-rt.routes", "private-subnets", "private-egress"] {
        assert!(
            ids.contains(&must),
            "{must} must fail for a private subnet routed to the IGW: {failed:#?}"
        );
    }
    let private = failed
        .iter()
        .find(|(id, _)| id == "private-subnets")
        .expect("private-subnets");
    assert!(
        private
            .1
            .contains("sends 0.0.0.0/0 to internet gateway lab-igw"),
        "{}",
        private.1
    );
    let unexpected: Vec<&&str> = ids
        .iter()
        .filter(|id| {
            !["private-rt.routes", "private-subnets", "private-egress"].contains(id)
                && !emulator_gaps().contains(id)
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "only the routing checks may fail: {failed:#?}"
    );
    delete_vpc_tree(&vpc).await;
    delete_key().await;
}

/// Removes a hand-built VPC with awslab's own destroy engine, by handing it the VPC's contents.
async fn delete_vpc_tree(vpc: &str) {
    let aws = awslab::aws::connect(&awslab::aws::AwsSettings {
        endpoint_url: Some(common::endpoint()),
        region: Some(STUDENT_REGION.to_owned()),
        local: true,
        profile: None,
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
            &awslab::resources::Scope::Named(vec!["lab-vpc".to_owned()]),
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
        &world,
        doomed,
        &opts,
        &awslab::engine::events::Silent,
    )
    .await
    .expect("destroy");
    assert!(out.left.is_empty(), "cleanup left {:?}", out.left);
}
