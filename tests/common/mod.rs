//! Shared test harness: makes sure an emulator answers (starting it through `localstack/up`,
//! the same script users run) and gives each test its own env so tests run in parallel.
#![allow(dead_code)]

pub mod aws_model;
pub mod ecr_store;
pub mod ecs_shim;
pub mod image_shim;
pub mod ministack_shim;
pub mod proxy;
pub mod student;
pub mod upstream;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, Tag};
use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `moto` (default) or `ministack`, from `AWSLAB_TEST_EMULATOR`.
pub fn emulator() -> String {
    std::env::var("AWSLAB_TEST_EMULATOR").unwrap_or_else(|_| "moto".to_owned())
}

/// The emulator's port: `AWSLAB_TEST_PORT`, else 4566 for moto and 4567 for MiniStack.
fn port() -> u16 {
    if let Some(port) = std::env::var("AWSLAB_TEST_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        return port;
    }
    match emulator().as_str() {
        "ministack" => 4567,
        _ => 4566,
    }
}

/// The emulator itself: `AWSLAB_TEST_ENDPOINT`, else the one `localstack/up` starts (or finds)
/// on [`port`].
fn emulator_url() -> String {
    if let Ok(url) = std::env::var("AWSLAB_TEST_ENDPOINT") {
        return url;
    }
    let status = Command::new("bash")
        .arg(root().join("localstack/up"))
        .env("EMULATOR", emulator())
        .env("PORT", port().to_string())
        .status()
        .expect("run localstack/up");
    assert!(status.success(), "localstack/up failed for {}", emulator());
    format!("http://127.0.0.1:{}", port())
}

/// The endpoint the tests use; starts the emulator once per test process. On MiniStack that is
/// the MiniStack shim in front of it (`ministack_shim.rs`: network ACL associations as AWS keeps
/// them), started once per process too.
pub fn endpoint() -> String {
    static STARTED: OnceLock<String> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            let url = emulator_url();
            if emulator() == "ministack" {
                ministack_shim::start(&url)
            } else {
                url
            }
        })
        .clone()
}

/// The endpoint of the tests that make images: on moto, the image shim in front of it
/// (`image_shim.rs`: `CreateImage` tags and encrypts the image's snapshots as AWS does), started
/// once per process; elsewhere [`endpoint`].
pub fn image_endpoint() -> String {
    static STARTED: OnceLock<String> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            let url = endpoint();
            if emulator() == "moto" {
                image_shim::start(&url)
            } else {
                url
            }
        })
        .clone()
}

/// The endpoint of the tests that run ECS services: on moto, the ECS shim in front of it
/// (`ecs_shim.rs`: services reach their desired count as on AWS), started once per process;
/// elsewhere [`endpoint`].
pub fn ecs_endpoint() -> String {
    static STARTED: OnceLock<String> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            let url = endpoint();
            if emulator() == "moto" {
                ecs_shim::start(&url)
            } else {
                url
            }
        })
        .clone()
}

/// A unique env name for one test.
pub fn env_name(test: &str) -> String {
    format!("t-{test}-{}", std::process::id())
}

/// Where the tests' `awslab` looks up the caller's public address: nothing listens there, so a
/// lab parameter that defaults to that address falls back to its `default` at once (this machine
/// has no internet; the tests that want an address serve one themselves).
pub const NO_CHECKIP: &str = "http://127.0.0.1:9/";

/// A test lab in `tests/labs`, as the path `awslab` takes.
pub fn test_lab(name: &str) -> String {
    root()
        .join(format!("tests/labs/{name}.toml"))
        .display()
        .to_string()
}

/// `awslab` with the emulator endpoint, test credentials and a private home.
pub fn awslab(home: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("awslab").expect("binary");
    cmd.env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWSLAB_HOME", home)
        .env("CI", "true")
        .env("AWSLAB_CHECKIP_URL", NO_CHECKIP)
        .env("AWSLAB_REGISTRY_MIRROR", &upstream::upstream().url)
        // The suite runs many envs in one emulated account and region at once, more than an
        // account's default quotas hold; the preflight's own tests turn it back on.
        .env("AWSLAB_SKIP_PREFLIGHT", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWSLAB_ENV")
        .env_remove("AWSLAB_ALLOWED_ACCOUNTS")
        .current_dir(root());
    cmd
}

/// `awslab` as an async child process through `endpoint` (a fault proxy), with the same
/// environment as [`awslab`].
pub fn awslab_via(home: &std::path::Path, endpoint: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(assert_cmd::cargo::cargo_bin("awslab"));
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWSLAB_HOME", home)
        .env("CI", "true")
        .env("AWSLAB_CHECKIP_URL", NO_CHECKIP)
        .env("AWSLAB_REGISTRY_MIRROR", &upstream::upstream().url)
        .env("AWSLAB_SKIP_PREFLIGHT", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWSLAB_ENV")
        .env_remove("AWSLAB_ALLOWED_ACCOUNTS")
        .current_dir(root())
        .kill_on_drop(true);
    cmd
}

/// `awslab` as an async child process through a proxy with the realistic AWS profile:
/// [`awslab_via`] plus `AWSLAB_TIME_SCALE`, the profile's scale, so awslab scales the durations
/// it expects (waits, polls) as the profile scales AWS's.
pub fn awslab_realistic(
    home: &std::path::Path,
    proxy: &proxy::FaultProxy,
) -> tokio::process::Command {
    let mut cmd = awslab_via(home, &proxy.url);
    if let Some(scale) = proxy.scale() {
        cmd.env("AWSLAB_TIME_SCALE", scale.to_string());
    }
    cmd
}

/// The scale the realistic tests run AWS's durations at: `AWSLAB_TEST_SCALE`, else 0.03 (a NAT
/// gateway available in 2.7 s, a load balancer in 5.4 s).
pub fn realistic_scale() -> f64 {
    std::env::var("AWSLAB_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(0.03)
}

/// A raw SDK EC2 client on the emulator (for building student setups and counting leftovers).
pub async fn ec2() -> aws_sdk_ec2::Client {
    ec2_in("us-east-1").await
}

/// SDK config for the emulator in a region, with test credentials.
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

pub async fn ec2_in(region: &str) -> aws_sdk_ec2::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_ec2::Client::new(&conf)
}

pub fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// Everything still carrying `awslab:env = env` (filtered client-side too: one emulator ignores
/// some filters). Terminated instances and deleted NAT gateways are history, not resources.
pub async fn tagged_left(env: &str) -> Vec<String> {
    tagged_left_in("us-east-1", env).await
}

/// [`tagged_left`] in a region.
pub async fn tagged_left_in(region: &str, env: &str) -> Vec<String> {
    let ec2 = ec2_in(region).await;
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
    let out = ec2
        .describe_launch_templates()
        .filters(f())
        .send()
        .await
        .expect("launch templates");
    all.extend(
        out.launch_templates()
            .iter()
            .map(|x| own(x.launch_template_id(), x.tags())),
    );
    let out = ec2
        .describe_vpc_endpoints()
        .filters(f())
        .send()
        .await
        .expect("vpc endpoints");
    all.extend(out.vpc_endpoints().iter().map(|e| {
        let alive = !e
            .state()
            .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"));
        (
            e.vpc_endpoint_id().map(str::to_owned),
            e.tags().to_vec(),
            alive,
        )
    }));
    // Volumes, this account's snapshots and images. MiniStack answers none of these for an
    // image (it makes none), so an action it lacks leaves nothing to list there.
    if let Ok(out) = ec2.describe_volumes().filters(f()).send().await {
        all.extend(out.volumes().iter().map(|v| {
            let alive = !v
                .state()
                .is_some_and(|s| matches!(s.as_str(), "deleted" | "deleting"));
            (v.volume_id().map(str::to_owned), v.tags().to_vec(), alive)
        }));
    }
    if let Ok(out) = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(f())
        .send()
        .await
    {
        all.extend(
            out.snapshots()
                .iter()
                .map(|x| own(x.snapshot_id(), x.tags())),
        );
    }
    if let Ok(out) = ec2
        .describe_images()
        .owners("self")
        .filters(f())
        .send()
        .await
    {
        all.extend(out.images().iter().map(|i| {
            let alive = i.state().is_none_or(|s| s.as_str() != "deregistered");
            (i.image_id().map(str::to_owned), i.tags().to_vec(), alive)
        }));
    }
    let mut left: Vec<String> = all
        .into_iter()
        .filter(|(_, tags, alive)| {
            *alive
                && tags
                    .iter()
                    .any(|t| t.key() == Some("awslab:env") && t.value() == Some(env))
        })
        .filter_map(|(id, _, _)| id)
        .collect();
    left.extend(elb_and_asg_left(region, env).await);
    left.extend(iam_efs_ecr_left(region, env).await);
    left
}

/// IAM roles and instance profiles of the env made for `region` (or in no region: the legacy
/// path), EFS file systems and ECR repositories carrying `awslab:env = env`.
async fn iam_efs_ecr_left(region: &str, env: &str) -> Vec<String> {
    let conf = sdk_config(region).await;
    let mut left = Vec::new();
    // `/awslab/<lab>/<env>/<region>/<name>/`, or `/awslab/<lab>/<env>/<name>/`.
    let ours = |path: &str| {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["awslab", _, e, r, _] => *e == env && *r == region,
            ["awslab", _, e, _] => *e == env,
            _ => false,
        }
    };
    let iam = aws_sdk_iam::Client::new(&conf);
    let roles = iam
        .list_roles()
        .path_prefix("/awslab/")
        .send()
        .await
        .expect("roles");
    left.extend(
        roles
            .roles()
            .iter()
            .filter(|r| ours(r.path()))
            .map(|r| r.role_name().to_owned()),
    );
    let profiles = iam
        .list_instance_profiles()
        .path_prefix("/awslab/")
        .send()
        .await
        .expect("instance profiles");
    left.extend(
        profiles
            .instance_profiles()
            .iter()
            .filter(|p| ours(p.path()))
            .map(|p| p.instance_profile_name().to_owned()),
    );
    let tagged = |key: &str, value: &str| key == "awslab:env" && value == env;
    let efs = aws_sdk_efs::Client::new(&conf);
    let systems = efs
        .describe_file_systems()
        .send()
        .await
        .expect("file systems");
    left.extend(
        systems
            .file_systems()
            .iter()
            .filter(|f| {
                !matches!(f.life_cycle_state().as_str(), "deleted" | "deleting")
                    && f.tags().iter().any(|t| tagged(t.key(), t.value()))
            })
            .map(|f| f.file_system_id().to_owned()),
    );
    let ecr = aws_sdk_ecr::Client::new(&conf);
    let repos = ecr
        .describe_repositories()
        .send()
        .await
        .expect("repositories");
    for r in repos.repositories() {
        let (Some(arn), Some(name)) = (r.repository_arn(), r.repository_name()) else {
            continue;
        };
        // A repository deleted by a parallel test between the listing and this call is not left.
        let Ok(t) = ecr.list_tags_for_resource().resource_arn(arn).send().await else {
            continue;
        };
        if t.tags().iter().any(|t| tagged(t.key(), t.value())) {
            left.push(name.to_owned());
        }
    }
    left
}

/// Load balancers, target groups and Auto Scaling groups carrying `awslab:env = env`.
async fn elb_and_asg_left(region: &str, env: &str) -> Vec<String> {
    let conf = sdk_config(region).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let mut arns: Vec<String> = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("load balancers")
        .load_balancers()
        .iter()
        .filter_map(|l| l.load_balancer_arn().map(str::to_owned))
        .collect();
    arns.extend(
        elb.describe_target_groups()
            .send()
            .await
            .expect("target groups")
            .target_groups()
            .iter()
            .filter_map(|t| t.target_group_arn().map(str::to_owned)),
    );
    let mut left = Vec::new();
    // Tests in parallel delete their load balancers and target groups between the listing and
    // `DescribeTags`, which then fails for the whole chunk: ask again one by one, and what is gone
    // by then is not left.
    let tags_of = |arns: Vec<String>| elb.describe_tags().set_resource_arns(Some(arns)).send();
    let gone =
        |code: Option<&str>| matches!(code, Some("LoadBalancerNotFound" | "TargetGroupNotFound"));
    for chunk in arns.chunks(20) {
        let descriptions = match tags_of(chunk.to_vec()).await {
            Ok(tags) => tags.tag_descriptions().to_vec(),
            Err(e) if gone(e.code()) => {
                let mut found = Vec::new();
                for arn in chunk {
                    match tags_of(vec![arn.clone()]).await {
                        Ok(tags) => found.extend(tags.tag_descriptions().iter().cloned()),
                        Err(e) if gone(e.code()) => {}
                        Err(e) => panic!("elb tags: {e:?}"),
                    }
                }
                found
            }
            Err(e) => panic!("elb tags: {e:?}"),
        };
        left.extend(
            descriptions
                .iter()
                .filter(|d| {
                    d.tags()
                        .iter()
                        .any(|t| t.key() == Some("awslab:env") && t.value() == Some(env))
                })
                .filter_map(|d| d.resource_arn().map(str::to_owned)),
        );
    }
    // Buckets of the env: by tag, or by the name awslab gives them (a bucket whose tags a
    // crash cut off still counts as left).
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let buckets = s3.list_buckets().send().await.expect("buckets");
    for b in buckets.buckets() {
        let Some(name) = b.name() else { continue };
        let by_name = awslab_bucket_of(name, env);
        let tagged = match s3.get_bucket_tagging().bucket(name).send().await {
            Ok(t) => t
                .tag_set()
                .iter()
                .any(|t| t.key() == "awslab:env" && t.value() == env),
            Err(_) => false,
        };
        if by_name || tagged {
            left.push(name.to_owned());
        }
    }
    let asg = aws_sdk_autoscaling::Client::new(&conf);
    left.extend(
        asg.describe_auto_scaling_groups()
            .send()
            .await
            .expect("groups")
            .auto_scaling_groups()
            .iter()
            .filter(|g| {
                g.tags()
                    .iter()
                    .any(|t| t.key() == Some("awslab:env") && t.value() == Some(env))
            })
            .filter_map(|g| g.auto_scaling_group_name().map(str::to_owned)),
    );
    left
}

/// Ids of the labs this repository has: bundled, in `./labs` and in `tests/labs`.
fn lab_ids() -> &'static [String] {
    static IDS: OnceLock<Vec<String>> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut ids = awslab::lab::catalog::all_ids();
        if let Ok(dir) = std::fs::read_dir(root().join("tests/labs")) {
            for entry in dir.flatten() {
                let path = entry.path().display().to_string();
                if let Ok(loaded) = awslab::lab::catalog::load_lab(&path, &Default::default()) {
                    ids.push(loaded.lab.id);
                }
            }
        }
        ids
    })
}

/// Whether `bucket` has a name awslab gives a bucket of `env` in one of this repository's labs
/// (awslab's own naming: a bucket whose tags a crash cut off still counts as the env's).
pub fn awslab_bucket_of(bucket: &str, env: &str) -> bool {
    lab_ids().iter().any(|lab| {
        awslab::resources::s3::is_owners(bucket, &awslab::aws::tags::Owner::new(lab, env))
    })
}

/// The lab the full cycle runs: the VPC lab, or the reduced one where the emulator lacks NAT
/// addresses, NACL port ranges and key-pair tags (MiniStack; its NACL associations come from the
/// tests' shim).
pub fn cycle_lab() -> String {
    if emulator() == "ministack" {
        root()
            .join("tests/labs/vpc-basic.toml")
            .display()
            .to_string()
    } else {
        "vpc-public-private".to_owned()
    }
}

/// The golden-ami lab, or its reduced form where the emulator makes no images, loses key-pair
/// tags and ignores a launch template on `RunInstances` (MiniStack): its setup, the data
/// snapshot and a template on the stock image (`tests/labs/ami-basic.toml`).
pub fn ami_lab() -> String {
    if emulator() == "ministack" {
        root()
            .join("tests/labs/ami-basic.toml")
            .display()
            .to_string()
    } else {
        "golden-ami".to_owned()
    }
}

/// The ECS lab, or its reduced form where the emulator loses NACL port ranges and NAT gateway
/// addresses (MiniStack): its fault and kill-point runs must pass `check` there.
pub fn ecs_lab() -> String {
    if emulator() == "ministack" {
        root()
            .join("tests/labs/ecs-basic.toml")
            .display()
            .to_string()
    } else {
        "ecs-fargate-service".to_owned()
    }
}

/// The ALB lab, or its reduced form where the emulator drops an Auto Scaling group's target
/// groups (MiniStack).
pub fn alb_lab() -> String {
    if emulator() == "ministack" {
        root()
            .join("tests/labs/alb-basic.toml")
            .display()
            .to_string()
    } else {
        "alb-asg-web".to_owned()
    }
}

/// `awslab --env ENV ARGS` in a region.
pub fn run_in(
    home: &std::path::Path,
    region: &str,
    env: &str,
    args: &[&str],
) -> std::process::Output {
    let mut c = awslab(home);
    c.env("AWS_REGION", region).args(["--env", env]).args(args);
    c.output().expect("run awslab")
}

/// `check LAB` as JSON: the exit code and the report.
pub fn check_in(
    home: &std::path::Path,
    region: &str,
    env: &str,
    lab: &str,
) -> (Option<i32>, Value) {
    let out = run_in(home, region, env, &["--format", "json", "check", lab]);
    (out.status.code(), json(&out))
}

/// (id, status, message, hint) of every check of a report.
pub fn results(report: &Value) -> Vec<(String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                s(&c["id"]),
                s(&c["status"]),
                s(&c["message"]),
                s(&c["hint"]),
            )
        })
        .collect()
}

/// The ids of the failed checks, sorted.
pub fn failed(report: &Value) -> Vec<String> {
    let mut f: Vec<String> = results(report)
        .into_iter()
        .filter(|(_, st, _, _)| st == "fail")
        .map(|(id, _, _, _)| id)
        .collect();
    f.sort();
    f
}
