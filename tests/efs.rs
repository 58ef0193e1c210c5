//! The EFS lab end to end: the setup stage a student starts from, the full solution, and
//! solutions a student built by hand with one mistake each. Each test has its own region: a
//! student's `efs-sg` and `lab-efs` are found by name, so no other test's may be there.

mod common;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, UserIdGroupPair};
use serde_json::Value;

const LAB: &str = "efs-shared-storage";

fn cmd(home: &std::path::Path, region: &str, env: &str, args: &[&str]) -> std::process::Output {
    common::run_in(home, region, env, args)
}

fn check(home: &std::path::Path, region: &str, env: &str) -> (Option<i32>, Value) {
    common::check_in(home, region, env, LAB)
}

use common::{failed, results};

/// What the solution stage adds: these (and only these) fail on a bare setup.
const SOLUTION_ITEMS: &[&str] = &[
    "efs-mountable",
    "efs-only-from-web-sg",
    "efs-sg",
    "efs-sg.ingress",
    "lab-efs",
    "lab-efs.encrypted",
    "lab-efs.performance_mode",
    "lab-efs.transition_to_ia",
    "mount-targets-multi-az",
    "mt-a",
    "mt-a.file_system",
    "mt-a.security_groups",
    "mt-a.state",
    "mt-a.subnet",
    "mt-b",
    "mt-b.file_system",
    "mt-b.security_groups",
    "mt-b.state",
    "mt-b.subnet",
];

/// Nothing of the env is left: EC2 resources by tag, IAM roles and profiles under the env's
/// path, file systems by tag.
async fn nothing_left(region: &str, env: &str) {
    assert_eq!(
        common::tagged_left_in(region, env).await,
        Vec::<String>::new()
    );
    let conf = common::sdk_config(region).await;
    let iam = aws_sdk_iam::Client::new(&conf);
    let prefix = format!("/awslab/{LAB}/{env}/");
    // Filtered here too: moto ignores PathPrefix on ListInstanceProfiles.
    let roles = iam
        .list_roles()
        .path_prefix(&prefix)
        .send()
        .await
        .expect("roles");
    let roles: Vec<&str> = roles
        .roles()
        .iter()
        .filter(|r| r.path().starts_with(&prefix))
        .map(|r| r.role_name())
        .collect();
    assert!(roles.is_empty(), "roles left: {roles:?}");
    let profiles = iam
        .list_instance_profiles()
        .path_prefix(&prefix)
        .send()
        .await
        .expect("profiles");
    let profiles: Vec<&str> = profiles
        .instance_profiles()
        .iter()
        .filter(|p| p.path().starts_with(&prefix))
        .map(|p| p.instance_profile_name())
        .collect();
    assert!(profiles.is_empty(), "instance profiles left: {profiles:?}");
    let efs = aws_sdk_efs::Client::new(&conf);
    let systems = efs
        .describe_file_systems()
        .send()
        .await
        .expect("file systems");
    let mine: Vec<&str> = systems
        .file_systems()
        .iter()
        .filter(|f| {
            f.tags()
                .iter()
                .any(|t| t.key() == "awslab:env" && t.value() == env)
        })
        .map(|f| f.file_system_id())
        .collect();
    assert!(mine.is_empty(), "file systems left: {mine:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_then_solution_then_down() {
    let region = "ap-south-1";
    let env = common::env_name("efs");
    let home = tempfile::tempdir().expect("home");

    let up = cmd(
        home.path(),
        region,
        &env,
        &["up", LAB, "--stage", "setup", "--yes"],
    );
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let (code, report) = check(home.path(), region, &env);
    assert_eq!(code, Some(1));
    // Only the student's part fails, and the points say so.
    assert_eq!(failed(&report), SOLUTION_ITEMS, "{report:#}");
    let lost: u64 = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["max_points"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        report["max_score"].as_u64().unwrap_or(0) - report["score"].as_u64().unwrap_or(0),
        lost
    );
    assert!(report["score"].as_u64().unwrap_or(0) > 0);
    // `check --stage setup` grades only what the setup made: all there.
    let setup = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "check", LAB, "--stage", "setup"],
    );
    assert_eq!(
        setup.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&setup.stdout)
    );

    // --ttl stamps every kind through its own service (EC2, EFS, IAM).
    let up = cmd(
        home.path(),
        region,
        &env,
        &["up", LAB, "--yes", "--ttl", "3h"],
    );
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let status = cmd(home.path(), region, &env, &["--format", "json", "status"]);
    let rows: Vec<Value> = common::json(&status)
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["env"] == env.as_str())
        .cloned()
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "one row, IAM not repeated as `global`: {rows:?}"
    );
    assert_eq!(rows[0]["region"], region);
    assert!(rows[0]["expires_at"].is_string(), "{rows:?}");
    let (code, report) = check(home.path(), region, &env);
    assert_eq!(failed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
    assert_eq!(report["score"], report["max_score"]);
    // The live part is skipped on an emulator, with the reason, never passed.
    let live = results(&report)
        .into_iter()
        .find(|(id, _, _, _)| id == "efs-mountable.live")
        .expect("live item");
    assert_eq!(live.1, "skip");
    let live_run = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "check", LAB, "--live"],
    );
    let live_report = common::json(&live_run);
    let live = results(&live_report)
        .into_iter()
        .find(|(id, _, _, _)| id == "efs-mountable.live")
        .expect("live item");
    assert_eq!(live.1, "skip");
    assert!(live.2.contains("emulator"), "{}", live.2);

    // show fills in the file system id.
    let show = cmd(home.path(), region, &env, &["show", LAB]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("mount -t efs -o tls fs-"), "{text}");

    let down = cmd(home.path(), region, &env, &["down", LAB, "--yes"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    nothing_left(region, &env).await;
}

/// What the student built of the solution.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mistake {
    NfsFromTheWorld,
    NoMountTargetInSecondAz,
}

/// Builds the student's part by hand in the tool-made setup: efs-sg, lab-efs, mount targets.
/// Returns the file system id (untagged, so the test removes it).
async fn build_solution(region: &str, env: &str, mistake: Mistake) -> String {
    let conf = common::sdk_config(region).await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let efs = aws_sdk_efs::Client::new(&conf);
    let by_tag = |k: &str, v: &str| Filter::builder().name(format!("tag:{k}")).values(v).build();
    let vpc = ec2
        .describe_vpcs()
        .filters(by_tag("awslab:env", env))
        .send()
        .await
        .expect("vpc");
    let vpc = vpc.vpcs()[0].vpc_id().expect("vpc id").to_owned();
    let id_of_subnet = |name: &'static str| {
        let ec2 = ec2.clone();
        let env = env.to_owned();
        async move {
            let out = ec2
                .describe_subnets()
                .filters(Filter::builder().name("tag:awslab:env").values(env).build())
                .filters(Filter::builder().name("tag:Name").values(name).build())
                .send()
                .await
                .expect("subnet");
            out.subnets()[0].subnet_id().expect("id").to_owned()
        }
    };
    let (subnet_a, subnet_b) = (
        id_of_subnet("subnet-a").await,
        id_of_subnet("subnet-b").await,
    );
    let web_sg = ec2
        .describe_security_groups()
        .filters(by_tag("awslab:env", env))
        .filters(by_tag("Name", "web-sg"))
        .send()
        .await
        .expect("web-sg");
    let web_sg = web_sg.security_groups()[0]
        .group_id()
        .expect("id")
        .to_owned();
    let efs_sg = ec2
        .create_security_group()
        .group_name("efs-sg")
        .description("NFS")
        .vpc_id(&vpc)
        .send()
        .await
        .expect("efs-sg");
    let efs_sg = efs_sg.group_id().expect("id").to_owned();
    let rule = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(2049)
        .to_port(2049);
    let rule = if mistake == Mistake::NfsFromTheWorld {
        rule.ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
    } else {
        rule.user_id_group_pairs(UserIdGroupPair::builder().group_id(&web_sg).build())
    };
    ec2.authorize_security_group_ingress()
        .group_id(&efs_sg)
        .ip_permissions(rule.build())
        .send()
        .await
        .expect("nfs rule");
    let fs = efs
        .create_file_system()
        .creation_token(format!("student-{env}"))
        .encrypted(true)
        .performance_mode(aws_sdk_efs::types::PerformanceMode::GeneralPurpose)
        .tags(
            aws_sdk_efs::types::Tag::builder()
                .key("Name")
                .value("lab-efs")
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("file system");
    let fs = fs.file_system_id().to_owned();
    efs.put_lifecycle_configuration()
        .file_system_id(&fs)
        .lifecycle_policies(
            aws_sdk_efs::types::LifecyclePolicy::builder()
                .transition_to_ia(aws_sdk_efs::types::TransitionToIaRules::After30Days)
                .build(),
        )
        .send()
        .await
        .expect("lifecycle");
    let mut subnets = vec![subnet_a];
    if mistake != Mistake::NoMountTargetInSecondAz {
        subnets.push(subnet_b);
    }
    for s in subnets {
        efs.create_mount_target()
            .file_system_id(&fs)
            .subnet_id(s)
            .security_groups(&efs_sg)
            .send()
            .await
            .expect("mount target");
    }
    fs
}

async fn student(region: &str, mistake: Mistake, must_fail: &[(&str, &str)]) {
    let env = common::env_name(&format!("efs-{}", region.replace('-', "")));
    let home = tempfile::tempdir().expect("home");
    let up = cmd(
        home.path(),
        region,
        &env,
        &["up", LAB, "--stage", "setup", "--yes"],
    );
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let fs = build_solution(region, &env, mistake).await;
    let (code, report) = check(home.path(), region, &env);

    // down removes the setup and what the student built inside the lab's VPC: efs-sg and the
    // mount targets, so the VPC can go. The file system is nobody's to delete: it stays, with
    // its settings, and the test removes it.
    let down = cmd(home.path(), region, &env, &["down", LAB, "--yes"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let efs = aws_sdk_efs::Client::new(&common::sdk_config(region).await);
    let still = efs
        .describe_file_systems()
        .file_system_id(&fs)
        .send()
        .await
        .expect("the student's file system is still there");
    let kept = still.file_systems().first().expect("listed");
    assert_eq!(kept.life_cycle_state().as_str(), "available");
    assert!(
        kept.tags()
            .iter()
            .any(|t| t.key() == "Name" && t.value() == "lab-efs"),
        "{kept:?}"
    );
    assert_eq!(kept.encrypted(), Some(true));
    let lifecycle = efs
        .describe_lifecycle_configuration()
        .file_system_id(&fs)
        .send()
        .await
        .expect("lifecycle");
    assert_eq!(
        lifecycle
            .lifecycle_policies()
            .iter()
            .filter_map(|p| p.transition_to_ia())
            .map(|t| t.as_str().to_owned())
            .collect::<Vec<_>>(),
        vec!["AFTER_30_DAYS"]
    );
    let targets = efs
        .describe_mount_targets()
        .file_system_id(&fs)
        .send()
        .await
        .expect("mount targets");
    let alive: Vec<&str> = targets
        .mount_targets()
        .iter()
        .filter(|m| !matches!(m.life_cycle_state().as_str(), "deleted" | "deleting"))
        .map(|m| m.mount_target_id())
        .collect();
    assert!(
        alive.is_empty(),
        "mount targets left in the lab VPC: {alive:?}"
    );
    efs.delete_file_system()
        .file_system_id(&fs)
        .send()
        .await
        .expect("remove the student's file system");
    nothing_left(region, &env).await;

    assert_eq!(code, Some(1), "{report:#}");
    let got = failed(&report);
    let want: Vec<String> = {
        let mut w: Vec<String> = must_fail.iter().map(|(id, _)| (*id).to_owned()).collect();
        w.sort();
        w
    };
    assert_eq!(got, want, "{mistake:?}: {report:#}");
    for (id, fragment) in must_fail {
        let (_, _, message, hint) = results(&report)
            .into_iter()
            .find(|(i, _, _, _)| i == id)
            .expect("result");
        assert!(
            message.contains(fragment),
            "{id}: `{fragment}` not in {message}"
        );
        assert!(!hint.is_empty(), "{id} has no hint");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn student_opens_nfs_to_the_world() {
    student(
        "ap-northeast-2",
        Mistake::NfsFromTheWorld,
        &[
            ("efs-sg.ingress", "tcp 2049 0.0.0.0/0"),
            ("efs-only-from-web-sg", "a host in subnet-a -> mount target"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn student_forgets_the_second_mount_target() {
    student(
        "eu-north-1",
        Mistake::NoMountTargetInSecondAz,
        &[
            ("mt-b", "lab-efs has no mount target in subnet-b"),
            ("mt-b.file_system", "not checked"),
            ("mt-b.security_groups", "not checked"),
            ("mt-b.state", "not checked"),
            ("mt-b.subnet", "not checked"),
            ("efs-mountable", "where lab-efs has no mount target"),
            ("mount-targets-multi-az", "`mt-b` was not found"),
        ],
    )
    .await;
}
