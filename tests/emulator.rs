//! End to end against a real emulator process: up -> check -> up again -> down, reports and call
//! counts, and what `down` must spare. Each test has its own env, so they run in parallel on one
//! emulator. Hand-built setups are graded in `grading.rs`, faults injected in `faults.rs`.

mod common;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use serde_json::Value;

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
    let lab = common::cycle_lab();

    let up = common::awslab(home.path())
        .args(["--format", "json", "--env", &env, "up", &lab, "--yes"])
        .output()
        .expect("up");
    assert!(
        up.status.success(),
        "up failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let first = common::json(&up);
    let created = first["resources"].as_array().expect("resources");
    assert!(!created.is_empty());
    assert!(created.iter().all(|r| r["action"] == "create"), "{first}");

    let check = common::awslab(home.path())
        .args(["--format", "json", "--env", &env, "check", &lab])
        .output()
        .expect("check");
    let report = common::json(&check);
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
    let second = common::json(&again);
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
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());

    // down again: nothing to do, still success.
    let again = common::awslab(home.path())
        .args(["--env", &env, "down", &lab, "--yes"])
        .output()
        .expect("down again");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 deleted, 0 left"));
}

/// The default VPC and what is in it (subnets, security groups, route tables), by id.
async fn default_vpc_contents(ec2: &aws_sdk_ec2::Client) -> Vec<String> {
    let vpcs = ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("is-default")
                .values("true")
                .build(),
        )
        .send()
        .await
        .expect("default vpc");
    let mut ids = Vec::new();
    for v in vpcs.vpcs().iter().filter(|v| v.is_default() == Some(true)) {
        let id = v.vpc_id().expect("id").to_owned();
        let f = aws_sdk_ec2::types::Filter::builder()
            .name("vpc-id")
            .values(&id)
            .build();
        let subnets = ec2
            .describe_subnets()
            .filters(f.clone())
            .send()
            .await
            .expect("subnets");
        ids.extend(
            subnets
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_id().map(str::to_owned)),
        );
        let sgs = ec2
            .describe_security_groups()
            .filters(f.clone())
            .send()
            .await
            .expect("sgs");
        ids.extend(
            sgs.security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_owned)),
        );
        let rts = ec2
            .describe_route_tables()
            .filters(f)
            .send()
            .await
            .expect("rts");
        ids.extend(
            rts.route_tables()
                .iter()
                .filter_map(|r| r.route_table_id().map(str::to_owned)),
        );
        ids.push(id);
    }
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn down_spares_other_envs_labs_untagged_and_default_vpcs() {
    let env_a = common::env_name("keep-a");
    let env_b = common::env_name("keep-b");
    let home = tempfile::tempdir().expect("home");
    let lab = common::root()
        .join("tests/labs/vpc-basic.toml")
        .display()
        .to_string();
    // Another lab in env a, brought up first so its resources are known.
    let other = home.path().join("other.toml");
    let text = std::fs::read_to_string(&lab).expect("lab").replacen(
        "id = \"vpc-basic\"",
        "id = \"vpc-basic-other\"",
        1,
    );
    std::fs::write(&other, text).expect("write");
    let other = other.display().to_string();
    common::awslab(home.path())
        .args(["--env", &env_a, "up", &other, "--yes"])
        .assert()
        .success();
    let mut other_ids = common::tagged_left(&env_a).await;
    other_ids.sort();
    assert!(!other_ids.is_empty());
    for env in [&env_a, &env_b] {
        common::awslab(home.path())
            .args(["--env", env, "up", &lab, "--yes"])
            .assert()
            .success();
    }
    let ec2 = common::ec2().await;
    let default_vpc = default_vpc_contents(&ec2).await;
    assert!(
        default_vpc.len() > 1,
        "the region has a default VPC: {default_vpc:?}"
    );
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
    let mut left_a = common::tagged_left(&env_a).await;
    left_a.sort();
    assert_eq!(left_a, other_ids, "only the other lab of env a may be left");
    assert!(
        !common::tagged_left(&env_b).await.is_empty(),
        "env b must survive env a's down"
    );
    assert_eq!(
        default_vpc_contents(&ec2).await,
        default_vpc,
        "the default VPC must survive untouched"
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
    assert!(common::tagged_left(&env_b).await.is_empty());
    common::awslab(home.path())
        .args(["--env", &env_a, "down", &other, "--yes"])
        .assert()
        .success();
    assert!(common::tagged_left(&env_a).await.is_empty());
    assert_eq!(default_vpc_contents(&ec2).await, default_vpc);
    ec2.delete_vpc()
        .vpc_id(&untagged_id)
        .send()
        .await
        .expect("cleanup");
}
