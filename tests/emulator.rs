//! End to end against a real emulator process: up -> check -> up again -> down, a student-built
//! VPC made with raw SDK calls, and a broken one. Each test has its own env, so they run in
//! parallel on one emulator.

mod common;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
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

/// `check --output FILE.xml --stats`: JUnit XML in the file (valid, one testcase per check of
/// the JSON report), the text summary on stdout, and one describe call per resource kind.
fn report_file_and_call_counts(home: &std::path::Path, env: &str, lab: &str, report: &Value) {
    let file = home.join("report.xml");
    let out = common::awslab(home)
        .args(["--env", env, "check", lab, "--stats", "--output"])
        .arg(&file)
        .output()
        .expect("check --output");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "score {}/{}",
            report["score"], report["max_score"]
        )),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&file).expect("report file");
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut suites) = (0, 0, 0);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                match e.name().as_ref() {
                    b"testcase" => cases += 1,
                    b"failure" | b"error" => failures += 1,
                    b"testsuite" => suites += 1,
                    _ => {}
                }
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "invalid JUnit XML at {}: {e}\n{xml}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(suites, 1);
    assert_eq!(cases, report["checks"].as_array().expect("checks").len());
    assert_eq!(failures, 0);

    // `--stats` lines: `  EC2:DescribeSubnets 1`.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let describes: Vec<(&str, u32)> = stderr
        .lines()
        .filter_map(|l| {
            let (op, n) = l.trim().rsplit_once(' ')?;
            op.contains(":Describe")
                .then(|| (op, n.parse().unwrap_or(u32::MAX)))
        })
        .collect();
    assert!(!describes.is_empty(), "no call counts: {stderr}");
    assert!(
        describes.iter().all(|(_, n)| *n == 1),
        "one call per describe: {describes:?}"
    );
    // One per resource kind, plus the availability zones and the VPC's DNS attribute.
    assert!(
        describes.len() <= awslab::lab::Kind::ALL.len() + 2,
        "{describes:?}"
    );
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
        .filter(|c| c["status"] != "pass" && c["status"] != "skip")
        .collect();
    assert!(failed.is_empty(), "checks failed after up: {failed:#?}");
    // Live parts do not run without --live, and say so; they are worth nothing while skipped.
    for skipped in report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] == "skip")
    {
        assert!(
            skipped["id"]
                .as_str()
                .is_some_and(|id| id.ends_with(".live")),
            "{skipped}"
        );
        assert!(
            skipped["message"]
                .as_str()
                .is_some_and(|m| m.contains("--live")),
            "{skipped}"
        );
        assert_eq!(skipped["max_points"], 0);
    }
    assert_eq!(report["score"], report["max_score"]);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["passed"], true);
    assert_eq!(check.status.code(), Some(0));
    report_file_and_call_counts(home.path(), &env, &lab, &report);

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
