//! The realistic AWS profile of the fault proxy (`common/aws_model.rs`): (a) the model itself,
//! driven with the raw SDK through the proxy against the emulator (new ids invisible to their
//! first use and to filtered describes, NAT gateway / instance / load balancer / EFS timelines
//! and what they hold, instance profile propagation, EC2's token buckets, the critical path);
//! (b) every lab's `up`, `check` and `down` through the profile at a small scale, and `up`
//! killed at a few points, which must converge as on AWS.
//!
//! Prerequisites of a model test are made on the emulator directly, so only what the test
//! looks at goes through the model. Model clients do not retry: each injected error is seen.

// The model's record and the critical paths are what these tests report (`-- --nocapture`).
#![allow(clippy::print_stderr)]

mod common;

use std::future::Future;
use std::process::Output;
use std::time::{Duration, Instant};

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter};
use common::aws_model::{
    CriticalPath, Kind, ModelReport, Phase, ResourceRecord, critical_path, scan_ids,
};
use common::proxy::{FaultProxy, Faults};

// ---------------------------------------------------------------------------------------------
// Helpers

/// A proxy with only the realistic profile at `scale`.
async fn realistic(scale: f64) -> FaultProxy {
    FaultProxy::start(&common::endpoint(), Faults::realistic(scale, 7)).await
}

/// SDK configuration through `proxy`, without retries (every injected error reaches the test).
async fn via(proxy: &FaultProxy) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&proxy.url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

/// The AWS error code of a result, or `ok`.
fn code<T, E: ProvideErrorMetadata>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code().unwrap_or("(no code)").to_owned(),
    }
}

fn message<T, E: ProvideErrorMetadata>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => String::new(),
        Err(e) => e.message().unwrap_or_default().to_owned(),
    }
}

/// Asks `f` until it returns `Some`, for at most `timeout`.
async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return (v, start.elapsed());
        }
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn report(proxy: &FaultProxy) -> ModelReport {
    proxy.model_report().expect("the realistic profile")
}

fn unique(stem: &str) -> String {
    format!("{stem}-{}-{}", std::process::id(), fastrand::u32(..))
}

/// A VPC with one subnet per AZ name given, made on the emulator directly.
async fn network(cidr_byte: u8, azs: &[&str]) -> (String, Vec<String>) {
    let ec2 = common::ec2().await;
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("10.{cidr_byte}.0.0/16"))
        .send()
        .await
        .expect("vpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let mut subnets = Vec::new();
    for (i, az) in azs.iter().enumerate() {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.{cidr_byte}.{}.0/24", i + 1))
            .availability_zone(*az)
            .send()
            .await
            .expect("subnet")
            .subnet()
            .and_then(|s| s.subnet_id())
            .expect("subnet id")
            .to_owned();
        subnets.push(s);
    }
    (vpc, subnets)
}

async fn group_in(vpc: &str) -> String {
    common::ec2()
        .await
        .create_security_group()
        .group_name(unique("model-sg"))
        .description("model test")
        .vpc_id(vpc)
        .send()
        .await
        .expect("security group")
        .group_id()
        .expect("group id")
        .to_owned()
}

async fn gateway_on(vpc: &str) -> String {
    let ec2 = common::ec2().await;
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .expect("igw")
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .expect("igw id")
        .to_owned();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(vpc)
        .send()
        .await
        .expect("attach igw");
    igw
}

/// Removes what a model test made, on the emulator directly (errors ignored: some are gone).
async fn cleanup(vpc: &str, subnets: &[String], groups: &[String], igw: Option<&str>) {
    let ec2 = common::ec2().await;
    if let Some(igw) = igw {
        let _ = ec2
            .detach_internet_gateway()
            .internet_gateway_id(igw)
            .vpc_id(vpc)
            .send()
            .await;
        let _ = ec2
            .delete_internet_gateway()
            .internet_gateway_id(igw)
            .send()
            .await;
    }
    for g in groups {
        let _ = ec2.delete_security_group().group_id(g).send().await;
    }
    for s in subnets {
        let _ = ec2.delete_subnet().subnet_id(s).send().await;
    }
    let _ = ec2.delete_vpc().vpc_id(vpc).send().await;
}

// ---------------------------------------------------------------------------------------------
// (a) The model

#[test]
fn ids_are_found_standing_alone_in_any_text() {
    let found = scan_ids(
        "<vpcId>vpc-0a1b2c3d4e5f60718</vpcId> ami-12345678 eni-0123456789abcdef0 \
         vpc-cidr-assoc-0123456789 subnet-01234567,subnet-89abcdef \
         arn:aws:elasticfilesystem:us-east-1:1:file-system/fs-ad08d98c fsmt-37300ae1 \
         \"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/50dc6c495c0c9188\"",
    );
    let found: Vec<(&str, Kind)> = found.iter().map(|(t, k)| (t.as_str(), *k)).collect();
    assert_eq!(
        found,
        vec![
            ("vpc-0a1b2c3d4e5f60718", Kind::Vpc),
            // Images are modeled: awslab makes them (CreateImage).
            ("ami-12345678", Kind::Image),
            ("subnet-01234567", Kind::Subnet),
            ("subnet-89abcdef", Kind::Subnet),
            ("fs-ad08d98c", Kind::FileSystem),
            ("fsmt-37300ae1", Kind::MountTarget),
            (
                "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/50dc6c495c0c9188",
                Kind::LoadBalancer
            ),
        ]
    );
}

fn record(kind: Kind, id: &str, parents: &[&str], ready: u64, gone: u64) -> ResourceRecord {
    ResourceRecord {
        kind,
        id: id.to_owned(),
        parents: parents.iter().map(|p| (*p).to_owned()).collect(),
        holds: Vec::new(),
        created_at: Some(Duration::ZERO),
        responded_at: Duration::ZERO,
        ready_at: Duration::from_secs(ready),
        modeled_ready: Duration::from_secs(ready),
        extra_calls: 0,
        delete_requested_at: Some(Duration::ZERO),
        gone_at: Some(Duration::from_secs(gone)),
        modeled_gone: Duration::from_secs(gone),
    }
}

/// The critical path follows create-request parents up and dependents down, and counts one
/// call per step and the modeled durations.
#[test]
fn the_critical_path_is_the_longest_chain_of_calls_and_modeled_waits() {
    let mut igw = record(Kind::InternetGateway, "igw", &["vpc"], 0, 0);
    igw.parents.clear();
    let mut nat = record(Kind::NatGateway, "nat", &["subnet", "eip"], 90, 60);
    nat.holds = vec!["igw".to_owned()];
    let report = ModelReport {
        scale: 1.0,
        resources: vec![
            record(Kind::Vpc, "vpc", &[], 0, 0),
            record(Kind::Subnet, "subnet", &["vpc"], 0, 0),
            record(Kind::ElasticIp, "eip", &[], 0, 0),
            igw,
            nat,
            record(Kind::RouteTable, "rtb", &["vpc"], 0, 0),
        ],
        steps: Vec::new(),
        not_found_injected: 0,
        filtered_describes_emptied: 0,
        states_rewritten: 0,
        dependency_refusals: 0,
        propagation_refusals: 0,
        throttles: 0,
        deferred_deletes: 0,
        deferred_failed: 0,
        lingering_enis_shown: 0,
        calls_forwarded: 0,
        median_call_latency: Duration::ZERO,
    };
    let l = Duration::from_secs(1);
    let up: CriticalPath = critical_path(&report, Phase::Up, l);
    // vpc (1 + 1), subnet (1 + 1), nat (1 + 90): 95 s.
    assert_eq!(up.total, Duration::from_secs(95), "{up:?}");
    assert_eq!(
        up.chain,
        vec!["vpc vpc", "subnet subnet", "nat_gateway nat"],
        "{up:?}"
    );
    assert_eq!(up.modeled, Duration::from_secs(90));
    let down = critical_path(&report, Phase::Down, l);
    // nat (1 + 60), then the subnet (1), then the VPC (1); the gateway too waits for the NAT.
    assert_eq!(down.total, Duration::from_secs(63), "{down:?}");
    assert_eq!(
        down.chain.first().map(String::as_str),
        Some("nat_gateway nat")
    );
}

/// Every EC2 kind: the first request naming a new id fails with that kind's not-found code,
/// the next one passes; ids that were already known never fail.
#[tokio::test(flavor = "multi_thread")]
async fn the_first_use_of_each_new_ec2_id_fails_once_then_passes() {
    let proxy = realistic(0.03).await;
    let ec2 = aws_sdk_ec2::Client::new(&via(&proxy).await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.71.0.0/16")
        .send()
        .await
        .expect("vpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let modify = || {
        ec2.modify_vpc_attribute()
            .vpc_id(&vpc)
            .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
            .send()
    };
    // The issue's example: ModifyVpcAttribute right after CreateVpc.
    let first = modify().await;
    assert_eq!(code(&first), "InvalidVpcID.NotFound", "{first:?}");
    assert!(message(&first).contains(&vpc));
    assert_eq!(code(&modify().await), "ok");
    // A VPC id now known: a subnet in it is created at once; the subnet's own id is new.
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.71.1.0/24")
        .send()
        .await
        .expect("subnet")
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_owned();
    let d = || ec2.describe_subnets().subnet_ids(&subnet).send();
    assert_eq!(code(&d().await), "InvalidSubnetID.NotFound");
    assert_eq!(code(&d().await), "ok");
    let sg = ec2
        .create_security_group()
        .group_name(unique("first-use"))
        .description("first use")
        .vpc_id(&vpc)
        .send()
        .await
        .expect("sg")
        .group_id()
        .expect("sg id")
        .to_owned();
    let d = || ec2.describe_security_groups().group_ids(&sg).send();
    assert_eq!(code(&d().await), "InvalidGroup.NotFound");
    assert_eq!(code(&d().await), "ok");
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .expect("igw")
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .expect("igw id")
        .to_owned();
    let attach = || {
        ec2.attach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(&vpc)
            .send()
    };
    assert_eq!(code(&attach().await), "InvalidInternetGatewayID.NotFound");
    assert_eq!(code(&attach().await), "ok");
    let rtb = ec2
        .create_route_table()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("rtb")
        .route_table()
        .and_then(|r| r.route_table_id())
        .expect("rtb id")
        .to_owned();
    let d = || ec2.describe_route_tables().route_table_ids(&rtb).send();
    assert_eq!(code(&d().await), "InvalidRouteTableID.NotFound");
    assert_eq!(code(&d().await), "ok");
    let acl = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("acl")
        .network_acl()
        .and_then(|a| a.network_acl_id())
        .expect("acl id")
        .to_owned();
    let d = || ec2.describe_network_acls().network_acl_ids(&acl).send();
    assert_eq!(code(&d().await), "InvalidNetworkAclID.NotFound");
    assert_eq!(code(&d().await), "ok");
    let eip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .expect("eip")
        .allocation_id()
        .expect("allocation id")
        .to_owned();
    let d = || ec2.describe_addresses().allocation_ids(&eip).send();
    assert_eq!(code(&d().await), "InvalidAllocationID.NotFound");
    assert_eq!(code(&d().await), "ok");
    let key = unique("model-key");
    ec2.create_key_pair()
        .key_name(&key)
        .send()
        .await
        .expect("key pair");
    let d = || ec2.describe_key_pairs().key_names(&key).send();
    assert_eq!(code(&d().await), "InvalidKeyPair.NotFound");
    assert_eq!(code(&d().await), "ok");
    let data = || {
        aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
            .image_id("ami-12345678")
            .build()
    };
    let lt_name = unique("model-lt");
    let lt = ec2
        .create_launch_template()
        .launch_template_name(&lt_name)
        .launch_template_data(data())
        .send()
        .await
        .expect("launch template")
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .expect("lt id")
        .to_owned();
    let d = || {
        ec2.describe_launch_templates()
            .launch_template_ids(&lt)
            .send()
    };
    assert_eq!(code(&d().await), "InvalidLaunchTemplateId.NotFound");
    assert_eq!(code(&d().await), "ok");
    // By name: the name is the template's too, and a template becomes visible once.
    let lt2_name = unique("model-lt2");
    ec2.create_launch_template()
        .launch_template_name(&lt2_name)
        .launch_template_data(data())
        .send()
        .await
        .expect("launch template 2");
    let d = || {
        ec2.describe_launch_templates()
            .launch_template_names(&lt2_name)
            .send()
    };
    assert_eq!(
        code(&d().await),
        "InvalidLaunchTemplateName.NotFoundException"
    );
    assert_eq!(code(&d().await), "ok");
    let r = report(&proxy);
    eprintln!("ec2 first uses: {}", r.summary());
    assert_eq!(r.not_found_injected, 10, "{}", r.summary());
    let direct = common::ec2().await;
    for name in [&lt_name, &lt2_name] {
        let _ = direct
            .delete_launch_template()
            .launch_template_name(name)
            .send()
            .await;
    }
    let _ = direct.delete_key_pair().key_name(&key).send().await;
    let _ = direct.release_address().allocation_id(&eip).send().await;
    let _ = direct
        .delete_network_acl()
        .network_acl_id(&acl)
        .send()
        .await;
    let _ = direct
        .delete_route_table()
        .route_table_id(&rtb)
        .send()
        .await;
    cleanup(&vpc, &[subnet], &[sg], Some(&igw)).await;
}

/// ELB, EFS, IAM, S3, ECR and Auto Scaling: each protocol's not-found shape (a 404 where the
/// service uses one; an empty list for a described Auto Scaling group).
#[tokio::test(flavor = "multi_thread")]
async fn the_first_use_of_each_new_id_fails_in_its_protocol_shape() {
    let (vpc, subnets) = network(72, &["us-east-1a", "us-east-1b"]).await;
    let sg = group_in(&vpc).await;
    let proxy = realistic(0.01).await;
    let conf = via(&proxy).await;
    // ELB: target group, load balancer, listener (ARNs).
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let tg = elb
        .create_target_group()
        .name(unique("m").chars().take(30).collect::<String>())
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(&vpc)
        .send()
        .await
        .expect("target group")
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .expect("tg arn")
        .to_owned();
    let d = || elb.describe_target_groups().target_group_arns(&tg).send();
    assert_eq!(code(&d().await), "TargetGroupNotFound");
    assert_eq!(code(&d().await), "ok");
    let lb = elb
        .create_load_balancer()
        .name(unique("m").chars().take(30).collect::<String>())
        .set_subnets(Some(subnets.clone()))
        .security_groups(&sg)
        .send()
        .await
        .expect("load balancer")
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_arn())
        .expect("lb arn")
        .to_owned();
    let d = || elb.describe_load_balancers().load_balancer_arns(&lb).send();
    assert_eq!(code(&d().await), "LoadBalancerNotFound");
    assert_eq!(code(&d().await), "ok");
    let listener = elb
        .create_listener()
        .load_balancer_arn(&lb)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .default_actions(
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(&tg)
                .build(),
        )
        .send()
        .await
        .expect("listener")
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .expect("listener arn")
        .to_owned();
    let d = || elb.describe_listeners().listener_arns(&listener).send();
    assert_eq!(code(&d().await), "ListenerNotFound");
    assert_eq!(code(&d().await), "ok");
    // EFS (REST JSON): 404 FileSystemNotFound.
    let efs = aws_sdk_efs::Client::new(&conf);
    let fs = efs
        .create_file_system()
        .creation_token(unique("model-fs"))
        .send()
        .await
        .expect("file system")
        .file_system_id()
        .to_owned();
    let first = efs.describe_file_systems().file_system_id(&fs).send().await;
    assert_eq!(code(&first), "FileSystemNotFound");
    let status = first
        .as_ref()
        .err()
        .and_then(|e| e.raw_response())
        .map(|r| r.status().as_u16());
    assert_eq!(status, Some(404));
    // IAM (query XML): 404 NoSuchEntity.
    let iam = aws_sdk_iam::Client::new(&conf);
    let role = unique("model-role");
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("role");
    let d = || iam.get_role().role_name(&role).send();
    assert_eq!(code(&d().await), "NoSuchEntity");
    assert_eq!(code(&d().await), "ok");
    // S3 (REST XML): NoSuchBucket, and a bare 404 to HEAD.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("model-bucket");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    let head = s3.head_bucket().bucket(&bucket).send().await;
    assert!(
        head.as_ref()
            .err()
            .and_then(|e| e.raw_response())
            .map(|r| r.status().as_u16())
            == Some(404),
        "{head:?}"
    );
    assert_eq!(
        code(&s3.get_bucket_location().bucket(&bucket).send().await),
        "ok"
    );
    let bucket2 = unique("model-bucket2");
    s3.create_bucket()
        .bucket(&bucket2)
        .send()
        .await
        .expect("bucket 2");
    let d = || s3.get_bucket_location().bucket(&bucket2).send();
    assert_eq!(code(&d().await), "NoSuchBucket");
    assert_eq!(code(&d().await), "ok");
    // ECR (awsJson).
    let ecr = aws_sdk_ecr::Client::new(&conf);
    let repo = unique("model/repo");
    ecr.create_repository()
        .repository_name(&repo)
        .send()
        .await
        .expect("repository");
    let d = || ecr.describe_repositories().repository_names(&repo).send();
    assert_eq!(code(&d().await), "RepositoryNotFoundException");
    assert_eq!(code(&d().await), "ok");
    // Auto Scaling: a described group is missing from the list once; other calls get
    // ValidationError.
    let direct_ec2 = common::ec2().await;
    let lt = direct_ec2
        .create_launch_template()
        .launch_template_name(unique("model-asg-lt"))
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-12345678")
                .build(),
        )
        .send()
        .await
        .expect("lt")
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .expect("lt id")
        .to_owned();
    let asg = aws_sdk_autoscaling::Client::new(&conf);
    let group = unique("model-asg");
    let spec = aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
        .launch_template_id(&lt)
        .build();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(&group)
        .launch_template(spec)
        .min_size(0)
        .max_size(1)
        .desired_capacity(0)
        .vpc_zone_identifier(&subnets[0])
        .send()
        .await
        .expect("group");
    let d = || {
        asg.describe_auto_scaling_groups()
            .auto_scaling_group_names(&group)
            .send()
    };
    let first = d().await.expect("describe groups");
    assert!(first.auto_scaling_groups().is_empty());
    let second = d().await.expect("describe groups");
    assert_eq!(second.auto_scaling_groups().len(), 1);
    let group2 = unique("model-asg2");
    let spec = aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
        .launch_template_id(&lt)
        .build();
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(&group2)
        .launch_template(spec)
        .min_size(0)
        .max_size(1)
        .desired_capacity(0)
        .vpc_zone_identifier(&subnets[0])
        .send()
        .await
        .expect("group 2");
    let update = || {
        asg.update_auto_scaling_group()
            .auto_scaling_group_name(&group2)
            .max_size(2)
            .send()
    };
    let first = update().await;
    assert_eq!(code(&first), "ValidationError");
    assert!(message(&first).contains("AutoScalingGroup name not found"));
    assert_eq!(code(&update().await), "ok");
    let r = report(&proxy);
    eprintln!("other services' first uses: {}", r.summary());
    assert_eq!(r.not_found_injected, 10, "{}", r.summary());
    // Cleanup on the emulator.
    let direct = common::sdk_config("us-east-1").await;
    let dasg = aws_sdk_autoscaling::Client::new(&direct);
    for g in [&group, &group2] {
        let _ = dasg
            .delete_auto_scaling_group()
            .auto_scaling_group_name(g)
            .force_delete(true)
            .send()
            .await;
    }
    let _ = direct_ec2
        .delete_launch_template()
        .launch_template_id(&lt)
        .send()
        .await;
    let _ = aws_sdk_ecr::Client::new(&direct)
        .delete_repository()
        .repository_name(&repo)
        .force(true)
        .send()
        .await;
    let ds3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&direct)
            .force_path_style(true)
            .build(),
    );
    for b in [&bucket, &bucket2] {
        let _ = ds3.delete_bucket().bucket(b).send().await;
    }
    let _ = aws_sdk_iam::Client::new(&direct)
        .delete_role()
        .role_name(&role)
        .send()
        .await;
    let _ = aws_sdk_efs::Client::new(&direct)
        .delete_file_system()
        .file_system_id(&fs)
        .send()
        .await;
    let delb = aws_sdk_elasticloadbalancingv2::Client::new(&direct);
    let _ = delb.delete_listener().listener_arn(&listener).send().await;
    let _ = delb
        .delete_load_balancer()
        .load_balancer_arn(&lb)
        .send()
        .await;
    let _ = delb
        .delete_target_group()
        .target_group_arn(&tg)
        .send()
        .await;
    proxy.settle().await;
    cleanup(&vpc, &subnets, &[sg], None).await;
}

/// A describe that names a new id only in a filter does not list it within the visibility
/// window (and that does not use up its first use); after the window it does.
#[tokio::test(flavor = "multi_thread")]
async fn filtered_describes_do_not_list_a_new_id_within_the_window() {
    let (vpc, _) = network(73, &[]).await;
    // Scale 0.2: the 5 s window lasts 1 s.
    let proxy = realistic(0.2).await;
    let ec2 = aws_sdk_ec2::Client::new(&via(&proxy).await);
    let created = Instant::now();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.73.1.0/24")
        .send()
        .await
        .expect("subnet")
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_owned();
    // The window runs from the model's record of the create, at the latest when its answer
    // arrives here (a loaded machine can take a while to answer).
    let answered = Instant::now();
    let by_filter = || {
        ec2.describe_subnets()
            .filters(Filter::builder().name("subnet-id").values(&subnet).build())
            .send()
    };
    let acls = || {
        ec2.describe_network_acls()
            .filters(
                Filter::builder()
                    .name("association.subnet-id")
                    .values(&subnet)
                    .build(),
            )
            .send()
    };
    let early = by_filter().await.expect("filtered subnets");
    let early_acls = acls().await.expect("filtered acls");
    assert!(created.elapsed() < Duration::from_millis(900), "too slow");
    assert!(early.subnets().is_empty(), "{early:?}");
    assert!(early_acls.network_acls().is_empty(), "{early_acls:?}");
    tokio::time::sleep(Duration::from_millis(1100).saturating_sub(answered.elapsed())).await;
    let late = by_filter().await.expect("filtered subnets");
    assert_eq!(late.subnets().len(), 1, "{late:?}");
    // The VPC's default ACL, by the new subnet's association (on MiniStack the tests' shim keeps
    // associations).
    let late_acls = acls().await.expect("filtered acls");
    assert_eq!(late_acls.network_acls().len(), 1, "{late_acls:?}");
    // The filters did not use up the first use.
    let d = || ec2.describe_subnets().subnet_ids(&subnet).send();
    assert_eq!(code(&d().await), "InvalidSubnetID.NotFound");
    assert_eq!(code(&d().await), "ok");
    let r = report(&proxy);
    assert_eq!(r.filtered_describes_emptied, 2, "{}", r.summary());
    assert_eq!(r.not_found_injected, 1, "{}", r.summary());
    cleanup(&vpc, &[subnet], &[], None).await;
}

/// A NAT gateway is `pending` for ~90 s (times scale), then `available`; deleted, it is
/// `deleting` for ~60 s, and meanwhile its Elastic IP cannot be released, its subnet not
/// deleted and the VPC's internet gateway not detached. MiniStack reports no NAT addresses:
/// the model knows the address from the create request, so the test is the same there.
#[tokio::test(flavor = "multi_thread")]
async fn nat_gateway_pending_then_available_and_deleting_holds_address_subnet_and_gateway() {
    let scale = 0.03;
    let (vpc, subnets) = network(74, &["us-east-1a"]).await;
    let igw = gateway_on(&vpc).await;
    let eip = common::ec2()
        .await
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .expect("eip")
        .allocation_id()
        .expect("allocation")
        .to_owned();
    let proxy = realistic(scale).await;
    let ec2 = aws_sdk_ec2::Client::new(&via(&proxy).await);
    let created = Instant::now();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&subnets[0])
        .allocation_id(&eip)
        .send()
        .await
        .expect("nat");
    let nat_gw = nat.nat_gateway().expect("nat gateway");
    assert_eq!(nat_gw.state().map(|s| s.as_str()), Some("pending"));
    let nat = nat_gw.nat_gateway_id().expect("nat id").to_owned();
    let state = || async {
        ec2.describe_nat_gateways()
            .nat_gateway_ids(&nat)
            .send()
            .await
            .map(|o| {
                o.nat_gateways()
                    .first()
                    .and_then(|n| n.state())
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default()
            })
    };
    let first = state().await;
    assert_eq!(
        first.as_ref().err().and_then(|e| e.code()),
        Some("NatGatewayNotFound")
    );
    assert_eq!(state().await.expect("state"), "pending");
    let pending = Duration::from_secs(90).mul_f64(scale);
    let (_, _) = poll("NAT available", pending * 3, || async {
        (state().await.ok()? == "available").then_some(())
    })
    .await;
    let took = created.elapsed();
    assert!(
        took >= pending,
        "available after {took:?}, modeled {pending:?}"
    );
    // A state filter selects by the modeled state.
    let deleted_at = Instant::now();
    ec2.delete_nat_gateway()
        .nat_gateway_id(&nat)
        .send()
        .await
        .expect("delete nat");
    assert_eq!(state().await.expect("state"), "deleting");
    let filtered = ec2
        .describe_nat_gateways()
        .filter(Filter::builder().name("state").values("available").build())
        .filter(
            Filter::builder()
                .name("subnet-id")
                .values(&subnets[0])
                .build(),
        )
        .send()
        .await
        .expect("filtered");
    assert!(filtered.nat_gateways().is_empty(), "{filtered:?}");
    let release = ec2.release_address().allocation_id(&eip).send().await;
    assert!(
        ["InvalidIPAddress.InUse", "AuthFailure"].contains(&code(&release).as_str()),
        "{release:?}"
    );
    let del = ec2.delete_subnet().subnet_id(&subnets[0]).send().await;
    assert_eq!(code(&del), "DependencyViolation");
    let detach = ec2
        .detach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await;
    assert_eq!(code(&detach), "DependencyViolation");
    assert!(
        message(&detach).contains("mapped public address"),
        "{detach:?}"
    );
    let deleting = Duration::from_secs(60).mul_f64(scale);
    poll("NAT deleted", deleting * 3, || async {
        let s = state().await.ok()?;
        (s == "deleted" || s.is_empty()).then_some(())
    })
    .await;
    assert!(deleted_at.elapsed() >= deleting);
    assert_eq!(
        code(&ec2.release_address().allocation_id(&eip).send().await),
        "ok"
    );
    assert_eq!(
        code(
            &ec2.detach_internet_gateway()
                .internet_gateway_id(&igw)
                .vpc_id(&vpc)
                .send()
                .await
        ),
        "ok"
    );
    assert_eq!(
        code(&ec2.delete_subnet().subnet_id(&subnets[0]).send().await),
        "ok"
    );
    let r = report(&proxy);
    eprintln!("NAT gateway: {}", r.summary());
    let rec = r.resource(&nat).expect("recorded");
    assert_eq!(rec.kind, Kind::NatGateway);
    assert_eq!(rec.modeled_ready, pending);
    assert_eq!(rec.modeled_gone, deleting);
    assert!(rec.gone_at.is_some() && rec.delete_requested_at.is_some());
    assert_eq!(r.dependency_refusals, 3, "{}", r.summary());
    assert!(r.states_rewritten >= 3, "{}", r.summary());
    cleanup(&vpc, &subnets, &[], Some(&igw)).await;
}

/// An instance is `pending` ~25 s and `shutting-down` ~45 s (times scale); until it is gone it
/// holds its security groups and its subnet.
#[tokio::test(flavor = "multi_thread")]
async fn instances_pending_and_shutting_down_hold_their_groups_and_subnet() {
    let scale = 0.04;
    let (vpc, subnets) = network(75, &["us-east-1a"]).await;
    let sg = group_in(&vpc).await;
    let proxy = realistic(scale).await;
    let ec2 = aws_sdk_ec2::Client::new(&via(&proxy).await);
    let run = ec2
        .run_instances()
        .image_id("ami-12345678")
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnets[0])
        .security_group_ids(&sg)
        .send()
        .await
        .expect("run");
    let id = run
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .expect("instance id")
        .to_owned();
    let state = || async {
        ec2.describe_instances()
            .instance_ids(&id)
            .send()
            .await
            .map(|o| {
                o.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .find_map(|i| {
                        i.state()
                            .and_then(|s| s.name())
                            .map(|n| n.as_str().to_owned())
                    })
                    .unwrap_or_default()
            })
    };
    assert_eq!(
        state()
            .await
            .err()
            .and_then(|e| e.code().map(str::to_owned))
            .as_deref(),
        Some("InvalidInstanceID.NotFound")
    );
    assert_eq!(state().await.expect("state"), "pending");
    let dsg = ec2.delete_security_group().group_id(&sg).send().await;
    assert_eq!(code(&dsg), "DependencyViolation");
    let dsub = ec2.delete_subnet().subnet_id(&subnets[0]).send().await;
    assert_eq!(code(&dsub), "DependencyViolation");
    poll(
        "running",
        Duration::from_secs(25).mul_f64(scale * 3.0),
        || async { (state().await.ok()? == "running").then_some(()) },
    )
    .await;
    let term = ec2
        .terminate_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("terminate");
    assert_eq!(
        term.terminating_instances()
            .first()
            .and_then(|i| i.current_state())
            .and_then(|s| s.name())
            .map(|n| n.as_str()),
        Some("shutting-down")
    );
    assert_eq!(state().await.expect("state"), "shutting-down");
    assert_eq!(
        code(&ec2.delete_security_group().group_id(&sg).send().await),
        "DependencyViolation"
    );
    poll(
        "terminated",
        Duration::from_secs(45).mul_f64(scale * 3.0),
        || async { (state().await.ok()? == "terminated").then_some(()) },
    )
    .await;
    assert_eq!(
        code(&ec2.delete_security_group().group_id(&sg).send().await),
        "ok"
    );
    assert_eq!(
        code(&ec2.delete_subnet().subnet_id(&subnets[0]).send().await),
        "ok"
    );
    let r = report(&proxy);
    eprintln!("instance: {}", r.summary());
    assert_eq!(r.dependency_refusals, 3, "{}", r.summary());
    cleanup(&vpc, &subnets, &[], None).await;
}

/// A load balancer is `provisioning` ~3 min (times scale); deleted, it leaves the describes
/// but its network interfaces stay ~2 min in its subnets, holding them, its security groups
/// and (internet-facing) the VPC's internet gateway.
#[tokio::test(flavor = "multi_thread")]
async fn load_balancer_provisioning_and_its_interfaces_linger_after_delete() {
    let scale = 0.02;
    let (vpc, subnets) = network(76, &["us-east-1a", "us-east-1b"]).await;
    let sg = group_in(&vpc).await;
    let igw = gateway_on(&vpc).await;
    let proxy = realistic(scale).await;
    let conf = via(&proxy).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let name = unique("mlb").chars().take(30).collect::<String>();
    let created = elb
        .create_load_balancer()
        .name(&name)
        .set_subnets(Some(subnets.clone()))
        .security_groups(&sg)
        .send()
        .await
        .expect("load balancer");
    let lb = created.load_balancers().first().expect("lb").clone();
    assert_eq!(
        lb.state().and_then(|s| s.code()).map(|c| c.as_str()),
        Some("provisioning")
    );
    let arn = lb.load_balancer_arn().expect("arn").to_owned();
    let state = || async {
        elb.describe_load_balancers()
            .load_balancer_arns(&arn)
            .send()
            .await
            .map(|o| {
                o.load_balancers()
                    .first()
                    .and_then(|l| l.state())
                    .and_then(|s| s.code())
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default()
            })
    };
    assert_eq!(
        state()
            .await
            .err()
            .and_then(|e| e.code().map(str::to_owned))
            .as_deref(),
        Some("LoadBalancerNotFound")
    );
    assert_eq!(state().await.expect("state"), "provisioning");
    let provisioning = Duration::from_secs(180).mul_f64(scale);
    let (_, waited) = poll("active", provisioning * 3, || async {
        (state().await.ok()? == "active").then_some(())
    })
    .await;
    eprintln!("load balancer active after {waited:?} (modeled {provisioning:?})");
    let description = format!(
        "ELB {}",
        arn.split_once(":loadbalancer/").expect("lb arn").1
    );
    let enis = || async {
        ec2.describe_network_interfaces()
            .filters(
                Filter::builder()
                    .name("description")
                    .values(&description)
                    .build(),
            )
            .send()
            .await
            .map(|o| o.network_interfaces().len())
            .unwrap_or(usize::MAX)
    };
    assert_eq!(enis().await, 2, "one interface per subnet");
    let deleted = Instant::now();
    elb.delete_load_balancer()
        .load_balancer_arn(&arn)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        state()
            .await
            .err()
            .and_then(|e| e.code().map(str::to_owned))
            .as_deref(),
        Some("LoadBalancerNotFound")
    );
    assert_eq!(enis().await, 2, "the interfaces linger");
    for s in &subnets {
        assert_eq!(
            code(&ec2.delete_subnet().subnet_id(s).send().await),
            "DependencyViolation"
        );
    }
    assert_eq!(
        code(&ec2.delete_security_group().group_id(&sg).send().await),
        "DependencyViolation"
    );
    assert_eq!(
        code(
            &ec2.detach_internet_gateway()
                .internet_gateway_id(&igw)
                .vpc_id(&vpc)
                .send()
                .await
        ),
        "DependencyViolation"
    );
    let linger = Duration::from_secs(120).mul_f64(scale);
    poll("interfaces released", linger * 3, || async {
        (enis().await == 0).then_some(())
    })
    .await;
    assert!(deleted.elapsed() >= linger);
    assert_eq!(
        code(&ec2.delete_security_group().group_id(&sg).send().await),
        "ok"
    );
    assert_eq!(
        code(
            &ec2.detach_internet_gateway()
                .internet_gateway_id(&igw)
                .vpc_id(&vpc)
                .send()
                .await
        ),
        "ok"
    );
    let r = report(&proxy);
    eprintln!("load balancer: {}", r.summary());
    assert_eq!(r.dependency_refusals, 4, "{}", r.summary());
    assert!(r.lingering_enis_shown >= 4, "{}", r.summary());
    cleanup(&vpc, &subnets, &[], Some(&igw)).await;
}

/// An EFS file system is `creating` (and refuses mount targets) for ~8 s, a mount target
/// `creating` ~90 s; a deleted mount target is `deleting` ~60 s, during which the file system
/// cannot be deleted (`FileSystemInUse`) nor its subnet and security group; the file system
/// then is `deleting` before it is gone (all times scale).
#[tokio::test(flavor = "multi_thread")]
async fn efs_file_systems_and_mount_targets_create_and_delete_over_time() {
    let scale = 0.03;
    let (vpc, subnets) = network(77, &["us-east-1a"]).await;
    let sg = group_in(&vpc).await;
    let proxy = realistic(scale).await;
    let conf = via(&proxy).await;
    let efs = aws_sdk_efs::Client::new(&conf);
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let fs = efs
        .create_file_system()
        .creation_token(unique("model-efs"))
        .send()
        .await
        .expect("file system");
    assert_eq!(fs.life_cycle_state().as_str(), "creating");
    let fs = fs.file_system_id().to_owned();
    let fs_state = || async {
        efs.describe_file_systems()
            .file_system_id(&fs)
            .send()
            .await
            .map(|o| {
                o.file_systems()
                    .first()
                    .map(|f| f.life_cycle_state().as_str().to_owned())
                    .unwrap_or_default()
            })
    };
    assert_eq!(
        fs_state()
            .await
            .err()
            .and_then(|e| e.code().map(str::to_owned))
            .as_deref(),
        Some("FileSystemNotFound")
    );
    assert_eq!(fs_state().await.expect("state"), "creating");
    let mount = || {
        efs.create_mount_target()
            .file_system_id(&fs)
            .subnet_id(&subnets[0])
            .security_groups(&sg)
            .send()
    };
    assert_eq!(code(&mount().await), "IncorrectFileSystemLifeCycleState");
    poll(
        "file system available",
        Duration::from_secs(8).mul_f64(scale * 4.0),
        || async { (fs_state().await.ok()? == "available").then_some(()) },
    )
    .await;
    let mt = mount().await.expect("mount target");
    assert_eq!(mt.life_cycle_state().as_str(), "creating");
    let mt = mt.mount_target_id().to_owned();
    let mt_state = || async {
        efs.describe_mount_targets()
            .mount_target_id(&mt)
            .send()
            .await
            .map(|o| {
                o.mount_targets()
                    .first()
                    .map(|m| m.life_cycle_state().as_str().to_owned())
                    .unwrap_or_default()
            })
    };
    assert_eq!(
        mt_state()
            .await
            .err()
            .and_then(|e| e.code().map(str::to_owned))
            .as_deref(),
        Some("MountTargetNotFound")
    );
    assert_eq!(mt_state().await.expect("state"), "creating");
    poll(
        "mount target available",
        Duration::from_secs(90).mul_f64(scale * 3.0),
        || async { (mt_state().await.ok()? == "available").then_some(()) },
    )
    .await;
    efs.delete_mount_target()
        .mount_target_id(&mt)
        .send()
        .await
        .expect("delete mount target");
    assert_eq!(mt_state().await.expect("state"), "deleting");
    assert_eq!(
        code(&efs.delete_file_system().file_system_id(&fs).send().await),
        "FileSystemInUse"
    );
    assert_eq!(
        code(&ec2.delete_subnet().subnet_id(&subnets[0]).send().await),
        "DependencyViolation"
    );
    assert_eq!(
        code(&ec2.delete_security_group().group_id(&sg).send().await),
        "DependencyViolation"
    );
    let of_fs = || async {
        efs.describe_mount_targets()
            .file_system_id(&fs)
            .send()
            .await
            .map(|o| o.mount_targets().len())
            .ok()
    };
    poll(
        "mount target gone",
        Duration::from_secs(60).mul_f64(scale * 3.0),
        || async { (of_fs().await? == 0).then_some(()) },
    )
    .await;
    efs.delete_file_system()
        .file_system_id(&fs)
        .send()
        .await
        .expect("delete file system");
    assert_eq!(fs_state().await.expect("state"), "deleting");
    poll(
        "file system gone",
        Duration::from_secs(10).mul_f64(scale * 4.0),
        || async { (code(&fs_state().await) == "FileSystemNotFound").then_some(()) },
    )
    .await;
    let r = report(&proxy);
    eprintln!("EFS: {}", r.summary());
    assert_eq!(r.dependency_refusals, 4, "{}", r.summary());
    assert_eq!(r.deferred_deletes, 2, "{}", r.summary());
    assert_eq!(r.deferred_failed, 0, "{}", r.summary());
    cleanup(&vpc, &subnets, &[sg], None).await;
}

/// A new instance profile (with its role) is not usable by EC2 for ~10 s (times scale):
/// `RunInstances` naming it gets `InvalidParameterValue`.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_instance_profile_is_not_yet_usable_by_ec2() {
    let scale = 0.1;
    let (vpc, subnets) = network(78, &["us-east-1a"]).await;
    let proxy = realistic(scale).await;
    let conf = via(&proxy).await;
    let iam = aws_sdk_iam::Client::new(&conf);
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let role = unique("model-prof-role");
    let profile = unique("model-profile");
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("role");
    iam.create_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await
        .expect("profile");
    let add = || {
        iam.add_role_to_instance_profile()
            .instance_profile_name(&profile)
            .role_name(&role)
            .send()
    };
    // Both names are new: one failure uses up both first uses.
    assert_eq!(code(&add().await), "NoSuchEntity");
    assert_eq!(code(&add().await), "ok");
    let added = Instant::now();
    let run = || {
        ec2.run_instances()
            .image_id("ami-12345678")
            .min_count(1)
            .max_count(1)
            .subnet_id(&subnets[0])
            .iam_instance_profile(
                aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                    .name(&profile)
                    .build(),
            )
            .send()
    };
    let early = run().await;
    assert_eq!(code(&early), "InvalidParameterValue", "{early:?}");
    assert!(
        message(&early).contains("Invalid IAM Instance Profile name"),
        "{early:?}"
    );
    let propagation = Duration::from_secs(10).mul_f64(scale);
    tokio::time::sleep(propagation.saturating_sub(added.elapsed()) + Duration::from_millis(100))
        .await;
    let late = run().await.expect("run after propagation");
    let id = late
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .expect("instance")
        .to_owned();
    let r = report(&proxy);
    eprintln!("instance profile: {}", r.summary());
    assert_eq!(r.propagation_refusals, 1, "{}", r.summary());
    let rec = r.resource(&profile).expect("profile recorded");
    assert_eq!(rec.parents, vec![role.clone()]);
    assert_eq!(rec.extra_calls, 1);
    let direct = common::ec2().await;
    let _ = direct.terminate_instances().instance_ids(&id).send().await;
    let diam = aws_sdk_iam::Client::new(&common::sdk_config("us-east-1").await);
    let _ = diam
        .remove_role_from_instance_profile()
        .instance_profile_name(&profile)
        .role_name(&role)
        .send()
        .await;
    let _ = diam
        .delete_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await;
    let _ = diam.delete_role().role_name(&role).send().await;
    cleanup(&vpc, &subnets, &[], None).await;
}

/// EC2's token buckets, per action: an unfiltered `DescribeInstances` burst empties its
/// 50-token bucket (refill 10/s), the filtered form has its own 100-token bucket, and a
/// mutating action's 50-token bucket (refill 5/s) empties too. An empty bucket answers 503
/// `RequestLimitExceeded`.
#[tokio::test(flavor = "multi_thread")]
async fn ec2_token_buckets_throttle_bursts_per_action() {
    let (vpc, _) = network(79, &[]).await;
    let proxy = realistic(0.03).await;
    let ec2 = aws_sdk_ec2::Client::new(&via(&proxy).await);
    let burst = |n: usize, filtered: bool| {
        let ec2 = ec2.clone();
        async move {
            let started = Instant::now();
            let calls = (0..n).map(|_| {
                let mut req = ec2.describe_instances();
                if filtered {
                    req = req.filters(
                        Filter::builder()
                            .name("instance-state-name")
                            .values("running")
                            .build(),
                    );
                }
                req.send()
            });
            let results = futures::future::join_all(calls).await;
            (results, started.elapsed())
        }
    };
    // A bucket lets through its capacity and what refilled meanwhile, no more, no less.
    let within = |passed: usize, cap: f64, rate: f64, took: Duration| {
        let most = cap + rate * took.as_secs_f64() + 1.0;
        (cap as usize..=most as usize).contains(&passed)
    };
    let (results, took) = burst(80, false).await;
    let throttled: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(
        !throttled.is_empty() && within(80 - throttled.len(), 50.0, 10.0, took),
        "80 calls in {took:?} on 50 tokens refilling 10/s: {} throttled",
        throttled.len()
    );
    let first = throttled[0];
    assert_eq!(code(first), "RequestLimitExceeded");
    assert_eq!(
        first
            .as_ref()
            .err()
            .and_then(|e| e.raw_response())
            .map(|r| r.status().as_u16()),
        Some(503)
    );
    let (filtered, _) = burst(80, true).await;
    assert!(
        filtered.iter().all(Result::is_ok),
        "the filtered form has its own 100 tokens"
    );
    let started = Instant::now();
    let modify = (0..60).map(|_| {
        ec2.modify_vpc_attribute()
            .vpc_id(&vpc)
            .enable_dns_support(AttributeBooleanValue::builder().value(true).build())
            .send()
    });
    let mutating = futures::future::join_all(modify).await;
    let took = started.elapsed();
    let m_throttled = mutating.iter().filter(|r| r.is_err()).count();
    assert!(
        m_throttled > 0 && within(60 - m_throttled, 50.0, 5.0, took),
        "60 mutating calls in {took:?} on 50 tokens refilling 5/s: {m_throttled} throttled"
    );
    let r = report(&proxy);
    eprintln!("throttling: {}", r.summary());
    assert_eq!(r.throttles as usize, throttled.len() + m_throttled);
    cleanup(&vpc, &[], &[], None).await;
}

// ---------------------------------------------------------------------------------------------
// (b) The labs through the realistic profile

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The first error line awslab printed (for the report of what failed where).
fn first_error(o: &Output) -> String {
    let err = stderr(o);
    err.lines()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error") || l.contains("failed") || l.contains("notfound")
        })
        .unwrap_or_else(|| err.lines().last().unwrap_or_default())
        .trim()
        .to_owned()
}

/// `up`, `check`, `down` of `lab` in `region` through `proxy`; the first that fails, with its
/// output.
async fn cycle(
    proxy: &FaultProxy,
    home: &std::path::Path,
    region: &str,
    env: &str,
    lab: &str,
) -> Result<(), String> {
    cycle_stage(proxy, home, region, env, lab, "full").await
}

/// [`cycle`] of one stage of `lab` (`full` or `setup`).
async fn cycle_stage(
    proxy: &FaultProxy,
    home: &std::path::Path,
    region: &str,
    env: &str,
    lab: &str,
    stage: &str,
) -> Result<(), String> {
    for (cmd, args) in [
        (
            "up",
            vec![
                "--env", env, "--stats", "up", lab, "--stage", stage, "--yes",
            ],
        ),
        (
            "check",
            vec!["--env", env, "--stats", "check", lab, "--stage", stage],
        ),
        ("down", vec!["--env", env, "--stats", "down", lab, "--yes"]),
    ] {
        let started = Instant::now();
        let out = common::awslab_realistic(home, proxy)
            .env("AWS_REGION", region)
            .args(&args)
            .output()
            .await
            .expect("run awslab");
        eprintln!(
            "{lab} {cmd}: {:?} in {:.1} s",
            out.status.code(),
            started.elapsed().as_secs_f64()
        );
        // At a test scale no command waits long: show what one that did was waiting for.
        if started.elapsed() > Duration::from_secs(30) {
            eprintln!("--- slow `{cmd}` of {lab}:\n{}", stderr(&out));
        }
        if cmd == "up" {
            // A filtered describe does not list what a VPC made seconds ago holds: `check` is
            // run once that window (5 s on AWS) has passed, as a person checking a lab would.
            tokio::time::sleep(Duration::from_secs_f64(5.0 * common::realistic_scale())).await;
        }
        if !out.status.success() {
            return Err(format!(
                "`{cmd}` of {lab} failed (exit {:?}); first error: {}\n--- stdout\n{}\n--- stderr\n{}",
                out.status.code(),
                first_error(&out),
                String::from_utf8_lossy(&out.stdout),
                stderr(&out)
            ));
        }
    }
    Ok(())
}

/// What a failed run may leave that `down` does not remove: buckets of the env that hold objects
/// but never got their tags (awslab deletes such a bucket only while it is empty), removed on
/// the emulator directly.
async fn scrub_buckets(env: &str) {
    let conf = common::sdk_config("us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let Ok(list) = s3.list_buckets().send().await else {
        return;
    };
    for b in list.buckets() {
        let Some(name) = b.name().filter(|n| common::awslab_bucket_of(n, env)) else {
            continue;
        };
        if let Ok(v) = s3.list_object_versions().bucket(name).send().await {
            for o in v.versions() {
                let _ = s3
                    .delete_object()
                    .bucket(name)
                    .key(o.key().unwrap_or_default())
                    .set_version_id(o.version_id().map(str::to_owned))
                    .send()
                    .await;
            }
            for m in v.delete_markers() {
                let _ = s3
                    .delete_object()
                    .bucket(name)
                    .key(m.key().unwrap_or_default())
                    .set_version_id(m.version_id().map(str::to_owned))
                    .send()
                    .await;
            }
        }
        let _ = s3.delete_bucket().bucket(name).send().await;
    }
}

/// The record and the critical paths of a run, for the test output.
fn show(lab: &str, proxy: &FaultProxy) {
    let r = report(proxy);
    let latency = r.median_call_latency;
    let up = critical_path(&r, Phase::Up, latency);
    let down = critical_path(&r, Phase::Down, latency);
    eprintln!("{lab}: {}", r.summary());
    eprintln!(
        "{lab}: critical path up {:.2} s ({} calls, {:.2} s modeled): {}",
        up.total.as_secs_f64(),
        up.calls,
        up.modeled.as_secs_f64(),
        up.chain.join(" -> ")
    );
    eprintln!(
        "{lab}: critical path down {:.2} s ({} calls, {:.2} s modeled): {}",
        down.total.as_secs_f64(),
        down.calls,
        down.modeled.as_secs_f64(),
        down.chain.join(" -> ")
    );
}

/// `up`, `check`, `down` of `lab` through the realistic profile must succeed and leave nothing
/// tagged. On a failure, what the run left is removed on the emulator directly before the
/// test fails.
async fn lab_through_the_realistic_profile(lab: &str, stem: &str) {
    let env = common::env_name(&format!("real-{stem}"));
    let home = tempfile::tempdir().expect("home");
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults::realistic(common::realistic_scale(), 20261201),
    )
    .await;
    let result = cycle(&proxy, home.path(), "us-east-1", &env, lab).await;
    show(lab, &proxy);
    proxy.settle().await;
    if let Err(e) = result {
        let _ = common::awslab(home.path())
            .args(["--env", &env, "down", lab, "--yes"])
            .output();
        scrub_buckets(&env).await;
        panic!("{e}");
    }
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vpc_lab_through_the_realistic_profile() {
    lab_through_the_realistic_profile(&common::cycle_lab(), "vpc").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_efs_lab_through_the_realistic_profile() {
    lab_through_the_realistic_profile("efs-shared-storage", "efs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_alb_lab_through_the_realistic_profile() {
    lab_through_the_realistic_profile(&common::alb_lab(), "alb").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_endpoint_lab_through_the_realistic_profile() {
    lab_through_the_realistic_profile(&common::test_lab("endpoint-basic"), "endpoint").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_s3_lab_through_the_realistic_profile() {
    lab_through_the_realistic_profile("s3-static-website", "s3").await;
}

/// The ECR lab in a region of its own (its repository name is one per account and region).
#[tokio::test(flavor = "multi_thread")]
async fn the_ecr_lab_through_the_realistic_profile() {
    let region = "ap-southeast-2";
    let lab = "ecr-push";
    let env = common::env_name("real-ecr");
    let home = tempfile::tempdir().expect("home");
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults::realistic(common::realistic_scale(), 20261202),
    )
    .await;
    let result = cycle(&proxy, home.path(), region, &env, lab).await;
    show(lab, &proxy);
    let ecr = aws_sdk_ecr::Client::new(&common::sdk_config(region).await);
    if let Err(e) = result {
        let _ = common::run_in(home.path(), region, &env, &["down", lab, "--yes"]);
        let _ = ecr
            .delete_repository()
            .repository_name("lab/web")
            .force(true)
            .send()
            .await;
        panic!("{e}");
    }
    assert_eq!(
        common::tagged_left_in(region, &env).await,
        Vec::<String>::new()
    );
    let left = ecr
        .describe_repositories()
        .repository_names("lab/web")
        .send()
        .await;
    assert!(left.is_err(), "the repository is left: {left:?}");
}

/// `up` through the realistic profile killed with SIGKILL right after its n-th mutating call
/// reached the emulator (the profile saw the answer; awslab never did): a second `up`, `check`
/// and `down`, all through the same profile, converge and leave nothing.
async fn killed_at(point: u32, lab: &str) -> Result<(), String> {
    killed_at_via(point, lab, &common::endpoint(), "full").await
}

/// [`killed_at`] of one stage of `lab`, with `upstream` behind the profile.
async fn killed_at_via(point: u32, lab: &str, upstream: &str, stage: &str) -> Result<(), String> {
    let stem = std::path::Path::new(lab)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(lab);
    let env = common::env_name(&format!("rkill{point}-{stem}"));
    let home = tempfile::tempdir().expect("home");
    let mut faults = Faults::realistic(common::realistic_scale(), u64::from(point));
    faults.hang_at_mutation = Some(point);
    let proxy = FaultProxy::start(upstream, faults).await;
    let mut child = common::awslab_realistic(home.path(), &proxy)
        .args(["--env", &env, "up", lab, "--stage", stage, "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn up");
    tokio::select! {
        () = proxy.hung() => {
            child.start_kill().expect("SIGKILL");
            let _ = child.wait().await;
        }
        status = child.wait() => {
            return Err(format!("{lab} point {point}: up finished ({status:?}) before its mutating call {point}"));
        }
        () = tokio::time::sleep(Duration::from_secs(180)) => {
            return Err(format!("{lab} point {point}: never reached"));
        }
    }
    let result = cycle_stage(&proxy, home.path(), "us-east-1", &env, lab, stage).await;
    proxy.settle().await;
    if let Err(e) = result {
        let _ = common::awslab(home.path())
            .env("AWS_ENDPOINT_URL", upstream)
            .args(["--env", &env, "down", lab, "--yes"])
            .output();
        scrub_buckets(&env).await;
        return Err(format!("{lab} point {point}: {e}"));
    }
    let left = common::tagged_left(&env).await;
    if !left.is_empty() {
        return Err(format!("{lab} point {point}: left {left:?}"));
    }
    Ok(())
}

/// Three seeded kill points among the mutating calls of one realistic `up` of `lab`.
async fn kill_points(lab: &str, seed: u64) -> Result<Vec<u32>, String> {
    kill_points_via(lab, seed, &common::endpoint(), "full").await
}

/// [`kill_points`] of one stage of `lab`, with `upstream` behind the profile.
async fn kill_points_via(
    lab: &str,
    seed: u64,
    upstream: &str,
    stage: &str,
) -> Result<Vec<u32>, String> {
    let probe =
        FaultProxy::start(upstream, Faults::realistic(common::realistic_scale(), seed)).await;
    let env = common::env_name(&format!("rprobe{seed}"));
    let home = tempfile::tempdir().expect("home");
    let up = common::awslab_realistic(home.path(), &probe)
        .args(["--env", &env, "up", lab, "--stage", stage, "--yes"])
        .output()
        .await
        .expect("probe up");
    let mutations = u32::try_from(
        probe
            .counts
            .mutations
            .load(std::sync::atomic::Ordering::SeqCst),
    )
    .unwrap_or(0);
    let down = common::awslab_realistic(home.path(), &probe)
        .args(["--env", &env, "down", lab, "--yes"])
        .output()
        .await
        .expect("probe down");
    probe.settle().await;
    if !up.status.success() || !down.status.success() {
        let _ = common::awslab(home.path())
            .args(["--env", &env, "down", lab, "--yes"])
            .output();
        scrub_buckets(&env).await;
        let failed = if up.status.success() { &down } else { &up };
        return Err(format!(
            "{lab}: the probe run failed: {}",
            first_error(failed)
        ));
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut points: Vec<u32> = (1..=mutations).collect();
    rng.shuffle(&mut points);
    let mut points: Vec<u32> = points.into_iter().take(3).collect();
    points.sort_unstable();
    eprintln!("{lab}: realistic kill points among {mutations} mutating calls: {points:?}");
    Ok(points)
}

#[tokio::test(flavor = "multi_thread")]
async fn up_killed_at_three_points_per_lab_converges_through_the_realistic_profile() {
    let labs = [
        common::cycle_lab(),
        "efs-shared-storage".to_owned(),
        common::alb_lab(),
        "s3-static-website".to_owned(),
    ];
    let probes = futures::future::join_all(
        labs.iter()
            .enumerate()
            .map(|(i, lab)| kill_points(lab, 31 + i as u64)),
    )
    .await;
    let mut failures = Vec::new();
    let mut runs = Vec::new();
    for (lab, points) in labs.iter().zip(probes) {
        match points {
            Ok(points) => runs.extend(points.into_iter().map(|p| (p, lab.clone()))),
            Err(e) => failures.push(e),
        }
    }
    let results = futures::future::join_all(runs.iter().map(|(p, lab)| killed_at(*p, lab))).await;
    failures.extend(results.into_iter().filter_map(Result::err));
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The golden-ami lab (its reduced form on MiniStack: `common::ami_lab`) through the realistic
/// profile: its image `pending` for minutes, its
/// snapshots `pending`, its volume `creating`, every new id unknown to its first use; `down`
/// leaves no instance, template, image, snapshot or volume.
#[tokio::test(flavor = "multi_thread")]
async fn the_golden_ami_lab_through_the_realistic_profile() {
    let lab = &common::ami_lab();
    let env = common::env_name("real-ami");
    let home = tempfile::tempdir().expect("home");
    let upstream = common::image_endpoint();
    let proxy = FaultProxy::start(
        &upstream,
        Faults::realistic(common::realistic_scale(), 20261203),
    )
    .await;
    let result = cycle(&proxy, home.path(), "us-east-1", &env, lab).await;
    show(lab, &proxy);
    proxy.settle().await;
    if let Err(e) = result {
        let _ = common::awslab(home.path())
            .env("AWS_ENDPOINT_URL", &upstream)
            .args(["--env", &env, "down", lab, "--yes"])
            .output();
        panic!("{e}");
    }
    let r = report(&proxy);
    let kinds: &[&str] = if common::emulator() == "ministack" {
        &["ebs_snapshot", "ebs_volume"]
    } else {
        &["ami", "ebs_snapshot", "ebs_volume"]
    };
    for kind in kinds {
        assert!(
            r.resources.iter().any(|x| x.kind.as_str() == *kind),
            "no {kind} modeled: {}",
            r.summary()
        );
    }
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
}

/// `up` of the golden-ami lab (its reduced form on MiniStack) killed at three points of its
/// realistic run converges.
#[tokio::test(flavor = "multi_thread")]
async fn golden_ami_up_killed_at_three_points_converges_through_the_realistic_profile() {
    let lab = &common::ami_lab();
    let upstream = common::image_endpoint();
    let stage = "full";
    let points = kill_points_via(lab, 41, &upstream, stage)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let results = futures::future::join_all(
        points
            .iter()
            .map(|p| killed_at_via(*p, lab, &upstream, stage)),
    )
    .await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The ECS lab in a region of its own (its repository name is one per account and region),
/// through the ECS shim on moto: its service deploying for over a minute, new cluster and
/// service ARNs unknown to their first use (a describe answers `MISSING`), a deleted service
/// draining while its cluster refuses to go, and its tasks' network interfaces holding the
/// subnets and the security group after that; `down` leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_ecs_lab_through_the_realistic_profile() {
    let region = "eu-west-3";
    let lab = &common::ecs_lab();
    let env = common::env_name("real-ecs");
    let home = tempfile::tempdir().expect("home");
    let upstream = common::ecs_endpoint();
    let proxy = FaultProxy::start(
        &upstream,
        Faults::realistic(common::realistic_scale(), 20261204),
    )
    .await;
    let result = cycle(&proxy, home.path(), region, &env, lab).await;
    show(lab, &proxy);
    proxy.settle().await;
    if let Err(e) = result {
        let _ = common::awslab(home.path())
            .env("AWS_ENDPOINT_URL", &upstream)
            .env("AWS_REGION", region)
            .args(["--env", &env, "down", lab, "--yes"])
            .output();
        panic!("{e}");
    }
    let r = report(&proxy);
    for kind in ["ecs_cluster", "ecs_service"] {
        assert!(
            r.resources.iter().any(|x| x.kind.as_str() == kind),
            "no {kind} modeled: {}",
            r.summary()
        );
    }
    assert!(r.states_rewritten > 0, "{}", r.summary());
    assert_eq!(
        common::tagged_left_in(region, &env).await,
        Vec::<String>::new()
    );
}

/// `up` of the ECS lab killed at three points of its realistic run converges. One after the
/// other: the lab's repository name is one per account and region.
#[tokio::test(flavor = "multi_thread")]
async fn ecs_up_killed_at_three_points_converges_through_the_realistic_profile() {
    let lab = &common::ecs_lab();
    let upstream = common::ecs_endpoint();
    let stage = "full";
    let points = kill_points_via(lab, 43, &upstream, stage)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    for p in points {
        if let Err(e) = killed_at_via(p, lab, &upstream, stage).await {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// ECS through the model: a new cluster and a new service are `MISSING` from their first
/// describe; the service deploys (no task running, deployment `IN_PROGRESS`) for a while; once
/// deleted it drains while its cluster refuses to go, and its tasks' network interfaces keep its
/// subnet after that.
#[tokio::test(flavor = "multi_thread")]
async fn ecs_services_deploy_drain_and_hold_their_subnets_for_a_while() {
    let scale = 0.05;
    let t = common::aws_model::Timings::aws();
    let (vpc, subnets) = network(78, &["us-east-1a"]).await;
    let sg = group_in(&vpc).await;
    let proxy = FaultProxy::start(&common::ecs_endpoint(), Faults::realistic(scale, 7)).await;
    let conf = via(&proxy).await;
    let ecs = aws_sdk_ecs::Client::new(&conf);
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let cluster = ecs
        .create_cluster()
        .cluster_name(unique("model-cluster"))
        .send()
        .await
        .expect("cluster")
        .cluster()
        .and_then(|c| c.cluster_arn())
        .expect("arn")
        .to_owned();
    let described = ecs
        .describe_clusters()
        .clusters(&cluster)
        .send()
        .await
        .expect("describe");
    assert!(described.clusters().is_empty(), "{described:?}");
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));
    let described = ecs
        .describe_clusters()
        .clusters(&cluster)
        .send()
        .await
        .expect("describe");
    assert_eq!(described.clusters().len(), 1, "{described:?}");
    let family = unique("model-family");
    ecs.register_task_definition()
        .family(&family)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("web")
                .image("public.ecr.aws/nginx/nginx:stable")
                .build(),
        )
        .send()
        .await
        .expect("task definition");
    let service = ecs
        .create_service()
        .cluster(&cluster)
        .service_name(unique("model-service"))
        .task_definition(&family)
        .desired_count(2)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .network_configuration(
            aws_sdk_ecs::types::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                        .subnets(&subnets[0])
                        .security_groups(&sg)
                        .build()
                        .expect("network"),
                )
                .build(),
        )
        .send()
        .await
        .expect("service")
        .service()
        .and_then(|s| s.service_arn())
        .expect("arn")
        .to_owned();
    let describe = || async {
        ecs.describe_services()
            .cluster(&cluster)
            .services(&service)
            .send()
            .await
            .expect("describe services")
    };
    let first = describe().await;
    assert!(first.services().is_empty(), "{first:?}");
    assert_eq!(first.failures()[0].reason(), Some("MISSING"));
    let deploying = describe().await;
    let s = &deploying.services()[0];
    assert_eq!((s.running_count(), s.desired_count()), (0, 2), "{s:?}");
    assert_eq!(
        s.deployments()[0].rollout_state().map(|r| r.as_str()),
        Some("IN_PROGRESS")
    );
    let (_, took) = poll(
        "service deployed",
        t.ecs_service_deploying.mul_f64(scale * 4.0),
        || async {
            let out = describe().await;
            let s = out.services().first()?;
            (s.running_count() == 2).then_some(())
        },
    )
    .await;
    eprintln!("deployed after {took:?}");
    ecs.delete_service()
        .cluster(&cluster)
        .service(&service)
        .force(true)
        .send()
        .await
        .expect("delete service");
    assert_eq!(describe().await.services()[0].status(), Some("DRAINING"));
    let delete_cluster = || ecs.delete_cluster().cluster(&cluster).send();
    assert_eq!(
        code(&delete_cluster().await),
        "ClusterContainsServicesException"
    );
    let delete_subnet = || ec2.delete_subnet().subnet_id(&subnets[0]).send();
    assert_eq!(code(&delete_subnet().await), "DependencyViolation");
    poll(
        "cluster deletable",
        t.ecs_service_draining.mul_f64(scale * 4.0),
        || async { delete_cluster().await.ok().map(drop) },
    )
    .await;
    // The tasks have stopped; their interfaces still hold the subnet for a while.
    assert_eq!(code(&delete_subnet().await), "DependencyViolation");
    poll(
        "subnet deletable",
        t.ecs_task_eni_linger.mul_f64(scale * 4.0),
        || async { delete_subnet().await.ok().map(drop) },
    )
    .await;
    let direct = common::ec2().await;
    let _ = direct.delete_security_group().group_id(&sg).send().await;
    let _ = direct.delete_vpc().vpc_id(&vpc).send().await;
    let r = report(&proxy);
    assert!(r.dependency_refusals >= 3, "{}", r.summary());
}
