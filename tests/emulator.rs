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

/// (association id, subnet id) of each ACL found by `filter`, by ACL id.
async fn acl_associations(
    ec2: &aws_sdk_ec2::Client,
    filter: &str,
    value: &str,
) -> Vec<(String, Vec<(String, String)>)> {
    let out = ec2
        .describe_network_acls()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(filter)
                .values(value)
                .build(),
        )
        .send()
        .await
        .expect("acls");
    let mut acls: Vec<(String, Vec<(String, String)>)> = out
        .network_acls()
        .iter()
        .map(|a| {
            let mut assocs: Vec<(String, String)> = a
                .associations()
                .iter()
                .map(|x| {
                    (
                        x.network_acl_association_id()
                            .unwrap_or_default()
                            .to_owned(),
                        x.subnet_id().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            assocs.sort_by(|a, b| a.1.cmp(&b.1));
            (a.network_acl_id().unwrap_or_default().to_owned(), assocs)
        })
        .collect();
    acls.sort();
    acls
}

/// Network ACL associations as AWS keeps them (on MiniStack through the tests' shim,
/// `tests/common/ministack_shim.rs`): every subnet is associated with its VPC's default ACL
/// until that association is replaced, `association.*` filters select by association, a
/// replacement gets a new id, and an ACL in use cannot be deleted.
#[tokio::test(flavor = "multi_thread")]
async fn network_acl_associations_as_aws_keeps_them() {
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    let ec2 = common::ec2_in("sa-east-1").await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.7.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("id").to_owned();
    let subnet = |cidr: &'static str| {
        let (ec2, vpc) = (ec2.clone(), vpc.clone());
        async move {
            let s = ec2
                .create_subnet()
                .vpc_id(vpc)
                .cidr_block(cidr)
                .send()
                .await
                .expect("subnet");
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_owned()
        }
    };
    let (a, b) = (subnet("10.7.1.0/24").await, subnet("10.7.2.0/24").await);
    let custom = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("acl");
    let custom = custom
        .network_acl()
        .and_then(|n| n.network_acl_id())
        .expect("id")
        .to_owned();
    let in_vpc = acl_associations(&ec2, "vpc-id", &vpc).await;
    let default = in_vpc
        .iter()
        .find(|(id, _)| *id != custom)
        .expect("the VPC's default ACL")
        .0
        .clone();

    // New subnets are on the default ACL; the filter finds it (and only it) by either subnet.
    let by_a = acl_associations(&ec2, "association.subnet-id", &a).await;
    assert_eq!(by_a.len(), 1, "{by_a:?}");
    assert_eq!(by_a[0].0, default);
    let mut subnets: Vec<&str> = by_a[0].1.iter().map(|(_, s)| s.as_str()).collect();
    let mut want = [a.as_str(), b.as_str()];
    subnets.sort();
    want.sort();
    assert_eq!(subnets, want);
    let assoc_a = by_a[0]
        .1
        .iter()
        .find(|(_, s)| *s == a)
        .expect("a's association")
        .0
        .clone();
    assert!(assoc_a.starts_with("aclassoc-"), "{assoc_a}");
    assert_eq!(
        acl_associations(&ec2, "association.subnet-id", &b).await,
        by_a
    );
    assert!(in_vpc.contains(&(custom.clone(), Vec::new())), "{in_vpc:?}");

    // Replacing moves the subnet under a new association id.
    let moved = ec2
        .replace_network_acl_association()
        .association_id(&assoc_a)
        .network_acl_id(&custom)
        .send()
        .await
        .expect("replace");
    let moved = moved.new_association_id().expect("new id").to_owned();
    assert!(
        moved.starts_with("aclassoc-") && moved != assoc_a,
        "{moved}"
    );
    let want = vec![(custom.clone(), vec![(moved.clone(), a.clone())])];
    assert_eq!(
        acl_associations(&ec2, "association.subnet-id", &a).await,
        want
    );
    assert_eq!(
        acl_associations(&ec2, "association.association-id", &moved).await,
        want
    );
    let by_b = acl_associations(&ec2, "association.subnet-id", &b).await;
    assert_eq!(by_b.len(), 1, "{by_b:?}");
    assert_eq!((&by_b[0].0, by_b[0].1.len()), (&default, 1));

    // An ACL in use stays.
    let err = ec2
        .delete_network_acl()
        .network_acl_id(&custom)
        .send()
        .await
        .expect_err("an ACL with associations cannot be deleted");
    assert_eq!(err.code(), Some("DependencyViolation"), "{err:?}");

    if common::emulator() == "ministack" {
        // Moto 5.2.5 answers these with a 500 (and forgets the association), AWS with errors.
        let err = ec2
            .replace_network_acl_association()
            .association_id(&assoc_a)
            .network_acl_id(&custom)
            .send()
            .await
            .expect_err("a replaced association id is gone");
        assert_eq!(err.code(), Some("InvalidAssociationID.NotFound"), "{err:?}");
        let err = ec2
            .replace_network_acl_association()
            .association_id(&moved)
            .network_acl_id("acl-0123456789abcdef0")
            .send()
            .await
            .expect_err("no such ACL");
        assert_eq!(err.code(), Some("InvalidNetworkAclID.NotFound"), "{err:?}");
        // A deleted subnet takes its association with it (moto 5.2.5 keeps it).
        ec2.delete_subnet()
            .subnet_id(&a)
            .send()
            .await
            .expect("delete a");
        assert_eq!(
            acl_associations(&ec2, "vpc-id", &vpc)
                .await
                .into_iter()
                .find(|(id, _)| *id == custom),
            Some((custom.clone(), Vec::new()))
        );
    } else {
        // Back on the default ACL, as `down` does before deleting a lab's ACL.
        ec2.replace_network_acl_association()
            .association_id(&moved)
            .network_acl_id(&default)
            .send()
            .await
            .expect("replace back");
        ec2.delete_subnet()
            .subnet_id(&a)
            .send()
            .await
            .expect("delete a");
    }
    ec2.delete_network_acl()
        .network_acl_id(&custom)
        .send()
        .await
        .expect("an unused ACL is deleted");
    ec2.delete_subnet()
        .subnet_id(&b)
        .send()
        .await
        .expect("delete b");
    ec2.delete_vpc()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("delete vpc");
}
