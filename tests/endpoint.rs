//! The gateway VPC endpoint kind: made with its tags and route tables, graded, put back in line
//! after a hand-made change, torn down before the route table it serves; a lab file that asks
//! for a service without a gateway endpoint is refused before any call.

mod common;

fn cmd(home: &std::path::Path, region: &str, env: &str, args: &[&str]) -> std::process::Output {
    common::run_in(home, region, env, args)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The env's endpoints: (id, route tables), deleted ones left out.
async fn endpoints(region: &str, env: &str) -> Vec<(String, Vec<String>)> {
    let ec2 = common::ec2_in(region).await;
    let out = ec2
        .describe_vpc_endpoints()
        .filters(common::tag_filter("awslab:env", env))
        .send()
        .await
        .expect("endpoints");
    out.vpc_endpoints()
        .iter()
        .filter(|e| {
            !e.state()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
        })
        .map(|e| {
            (
                e.vpc_endpoint_id().unwrap_or_default().to_owned(),
                e.route_table_ids().to_vec(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_endpoint_is_made_graded_kept_in_line_and_torn_down() {
    let region = "ap-northeast-3";
    let env = common::env_name("endpoint");
    let home = tempfile::tempdir().expect("home");
    let lab = common::test_lab("endpoint-basic");

    let up = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "up", &lab, "--yes"],
    );
    assert!(up.status.success(), "{}", stderr(&up));
    let report = common::json(&up);
    assert_eq!(report["schema_version"], 1, "{report:#}");
    let created: Vec<&str> = report["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["action"] == "create")
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(created.contains(&"s3-endpoint"), "{report:#}");
    let made = endpoints(region, &env).await;
    assert_eq!(made.len(), 1, "{made:?}");
    let (id, tables) = made[0].clone();
    assert_eq!(tables.len(), 1, "{made:?}");
    let ec2 = common::ec2_in(region).await;
    let endpoint = ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&id)
        .send()
        .await
        .expect("endpoint");
    let e = &endpoint.vpc_endpoints()[0];
    assert_eq!(
        e.service_name(),
        Some(format!("com.amazonaws.{region}.s3").as_str())
    );
    assert_eq!(e.vpc_endpoint_type().map(|t| t.as_str()), Some("Gateway"));

    let (code, report) = common::check_in(home.path(), region, &env, &lab);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(common::failed(&report).is_empty(), "{report:#}");

    // Taken off its route table by hand: `check` says so, `up` puts it back.
    ec2.modify_vpc_endpoint()
        .vpc_endpoint_id(&id)
        .remove_route_table_ids(&tables[0])
        .send()
        .await
        .expect("modify");
    let (code, report) = common::check_in(home.path(), region, &env, &lab);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(
        common::failed(&report),
        vec!["s3-endpoint.route_tables"],
        "{report:#}"
    );
    let again = cmd(home.path(), region, &env, &["up", &lab, "--yes"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(endpoints(region, &env).await, vec![(id, tables)]);

    // `sweep` without `--yes` names the env and deletes nothing.
    let dry = common::awslab(home.path())
        .env("AWS_REGION", region)
        .args([
            "--format",
            "json",
            "sweep",
            "--lab",
            "endpoint-basic",
            "--env",
            &env,
        ])
        .output()
        .expect("sweep");
    assert!(dry.status.success(), "{}", stderr(&dry));
    let swept = common::json(&dry);
    assert_eq!(
        (&swept["schema_version"], &swept["dry_run"]),
        (&serde_json::json!(1), &serde_json::json!(true)),
        "{swept:#}"
    );
    assert_eq!(swept["environments"][0]["env"], env.as_str(), "{swept:#}");
    assert_eq!(endpoints(region, &env).await.len(), 1);

    let down = cmd(
        home.path(),
        region,
        &env,
        &["--format", "json", "down", &lab, "--yes"],
    );
    assert!(down.status.success(), "{}", stderr(&down));
    let report = common::json(&down);
    assert_eq!(report["schema_version"], 1, "{report:#}");
    assert!(
        report["deleted"]
            .as_array()
            .expect("deleted")
            .iter()
            .any(|d| d["name"] == "s3-endpoint" && d["type"] == "vpc_endpoint"),
        "{report:#}"
    );
    assert_eq!(endpoints(region, &env).await, Vec::new());
    assert_eq!(
        common::tagged_left_in(region, &env).await,
        Vec::<String>::new()
    );
}

#[test]
fn a_service_without_a_gateway_endpoint_is_refused_at_its_place() {
    let dir = tempfile::tempdir().expect("dir");
    let lab = dir.path().join("endpoint-bad.toml");
    let text = std::fs::read_to_string(common::test_lab("endpoint-basic"))
        .expect("lab")
        .replace("id = \"endpoint-basic\"", "id = \"endpoint-bad\"")
        .replace("service = \"s3\"", "service = \"sqs\"");
    std::fs::write(&lab, &text).expect("write");
    let home = tempfile::tempdir().expect("home");
    let out = common::awslab(home.path())
        .args(["validate", &lab.display().to_string()])
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let line = text
        .lines()
        .position(|l| l.contains("\"sqs\""))
        .expect("line")
        + 1;
    assert!(err.contains(&format!("endpoint-bad.toml:{line}:")), "{err}");
    assert!(err.contains("`sqs` has no gateway endpoint"), "{err}");
    assert!(err.contains("s3, dynamodb"), "{err}");
}
