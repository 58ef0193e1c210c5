//! Environments across labs, envs and regions: `up --ttl`, `status`, `sweep` (a dry run unless
//! --yes, only what expired with --expired), and the production guard of `down` and `sweep`.
//! Each test works in its own region, so a sweep there sees only its own environments.

mod common;

use serde_json::Value;

fn basic_lab() -> String {
    common::root()
        .join("tests/labs/vpc-basic.toml")
        .display()
        .to_string()
}

fn in_region(home: &std::path::Path, region: &str) -> assert_cmd::Command {
    let mut cmd = common::awslab(home);
    cmd.env("AWS_REGION", region);
    cmd
}

/// The envs `status --format json` lists in the region: (env, expires_at).
fn status(
    home: &std::path::Path,
    region: &str,
    all_regions: bool,
) -> Vec<(String, String, Option<String>)> {
    let mut cmd = in_region(home, region);
    cmd.args(["--format", "json", "status"]);
    if all_regions {
        cmd.arg("--all-regions");
    }
    let out = cmd.output().expect("status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = common::json(&out);
    v.as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["env"].as_str().unwrap_or_default().to_owned(),
                e["region"].as_str().unwrap_or_default().to_owned(),
                e["expires_at"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn envs_named(list: &[(String, String, Option<String>)], prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = list
        .iter()
        .filter(|(e, _, _)| e.starts_with(prefix))
        .map(|(e, _, _)| e.clone())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn ttl_status_and_sweep_of_expired_environments() {
    let region = "ca-central-1";
    let home = tempfile::tempdir().expect("home");
    let lab = basic_lab();
    let tag = std::process::id();
    let (soon, later, never) = (
        format!("soon-{tag}"),
        format!("later-{tag}"),
        format!("never-{tag}"),
    );
    for (env, ttl) in [(&soon, Some("1s")), (&later, Some("3h")), (&never, None)] {
        let mut cmd = in_region(home.path(), region);
        cmd.args(["--env", env, "up", &lab, "--yes"]);
        if let Some(t) = ttl {
            cmd.args(["--ttl", t]);
        }
        let out = cmd.output().expect("up");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let listed = status(home.path(), region, false);
    let mine: Vec<String> = envs_named(&listed, "")
        .into_iter()
        .filter(|e| e.ends_with(&tag.to_string()))
        .collect();
    assert_eq!(mine.len(), 3, "{listed:?}");
    let expiry = |env: &str| {
        listed
            .iter()
            .find(|(e, _, _)| e == env)
            .and_then(|(_, _, x)| x.clone())
    };
    assert!(expiry(&soon).is_some() && expiry(&later).is_some());
    assert_eq!(expiry(&never), None);

    // Dry run: lists only what expired, deletes nothing.
    let dry = in_region(home.path(), region)
        .args(["sweep", "--expired"])
        .output()
        .expect("sweep");
    assert!(dry.status.success());
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains(&soon) && !text.contains(&later) && !text.contains(&never),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&dry.stderr).contains("dry run"));
    assert_eq!(
        envs_named(&status(home.path(), region, false), &soon),
        vec![soon.clone()]
    );

    // --yes deletes the expired env only.
    let wet = in_region(home.path(), region)
        .args(["sweep", "--expired", "--yes"])
        .output()
        .expect("sweep --yes");
    assert!(
        wet.status.success(),
        "{}",
        String::from_utf8_lossy(&wet.stderr)
    );
    let after = status(home.path(), region, false);
    assert!(envs_named(&after, &soon).is_empty(), "{after:?}");
    assert_eq!(envs_named(&after, &later), vec![later.clone()]);
    assert_eq!(envs_named(&after, &never), vec![never.clone()]);

    // Nothing expired: nothing deleted.
    let again = in_region(home.path(), region)
        .args(["sweep", "--expired", "--yes"])
        .output()
        .expect("sweep again");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no expired lab environments"));
    assert_eq!(status(home.path(), region, false).len(), after.len());

    for env in [&later, &never] {
        let out = in_region(home.path(), region)
            .args(["--env", env, "down", &lab, "--yes"])
            .output()
            .expect("down");
        assert!(out.status.success());
    }
    assert!(
        envs_named(&status(home.path(), region, false), "")
            .iter()
            .all(|e| !e.ends_with(&tag.to_string()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_all_regions_finds_every_region() {
    let home = tempfile::tempdir().expect("home");
    let lab = basic_lab();
    let env = common::env_name("regions");
    for region in ["sa-east-1", "ap-northeast-1"] {
        let out = in_region(home.path(), region)
            .args(["--env", &env, "up", &lab, "--yes"])
            .output()
            .expect("up");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let here = status(home.path(), "sa-east-1", false);
    let everywhere = status(home.path(), "sa-east-1", true);
    let regions_of = |list: &[(String, String, Option<String>)]| {
        let mut r: Vec<String> = list
            .iter()
            .filter(|(e, _, _)| *e == env)
            .map(|(_, r, _)| r.clone())
            .collect();
        r.sort();
        r
    };
    assert_eq!(regions_of(&here), vec!["sa-east-1"]);
    assert_eq!(regions_of(&everywhere), vec!["ap-northeast-1", "sa-east-1"]);
    for region in ["sa-east-1", "ap-northeast-1"] {
        in_region(home.path(), region)
            .args(["--env", &env, "down", &lab, "--yes"])
            .assert()
            .success();
    }
}

/// Credentials of a fresh account on the emulator (both emulators map assumed-role credentials
/// to the role's account), whose alias looks like production.
async fn production_account(alias: &str) -> aws_sdk_sts::types::Credentials {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(common::endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let account = format!("{:012}", 100_000_000_000u64 + u64::from(std::process::id()));
    let out = aws_sdk_sts::Client::new(&conf)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/lab"))
        .role_session_name("awslab-test")
        .send()
        .await
        .expect("assume role");
    let creds = out.credentials().expect("credentials").clone();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(common::endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            None,
            "test",
        ))
        .load()
        .await;
    let iam = aws_sdk_iam::Client::new(&conf);
    let _ = iam.delete_account_alias().account_alias(alias).send().await;
    iam.create_account_alias()
        .account_alias(alias)
        .send()
        .await
        .expect("alias");
    creds
}

#[tokio::test(flavor = "multi_thread")]
async fn down_and_sweep_refuse_a_production_account_without_force() {
    let creds = production_account("acme-prod").await;
    let home = tempfile::tempdir().expect("home");
    let lab = basic_lab();
    let env = common::env_name("prod");
    let as_prod = |args: &[&str]| {
        let mut cmd = common::awslab(home.path());
        cmd.env("AWS_ACCESS_KEY_ID", creds.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
            .env("AWS_SESSION_TOKEN", creds.session_token())
            .args(args);
        cmd.output().expect("run")
    };
    let up = as_prod(&["--env", &env, "up", &lab, "--yes"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    for args in [
        vec!["--env", env.as_str(), "down", lab.as_str(), "--yes"],
        vec!["sweep", "--yes"],
    ] {
        let refused = as_prod(&args);
        let err = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{err}");
        assert!(
            err.contains("refusing to delete in account alias `acme-prod`"),
            "{err}"
        );
        assert!(err.contains("--force"), "{err}");
        // The account id and region were shown before refusing.
        assert!(err.contains("region us-east-1"), "{err}");
    }
    let forced = as_prod(&["--env", &env, "down", &lab, "--yes", "--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
}

/// A TTL past the last second a timestamp can hold (year 9999), or past what the clock can add,
/// is a usage error before any call.
#[test]
fn a_ttl_no_timestamp_can_hold_is_a_usage_error() {
    let home = tempfile::tempdir().expect("home");
    for ttl in ["10000y", "500000000000y"] {
        let out = common::awslab(home.path())
            .args([
                "--env",
                "never-up",
                "up",
                &basic_lab(),
                "--yes",
                "--ttl",
                ttl,
            ])
            .output()
            .expect("up");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{ttl}: {err}");
        assert!(err.contains("--ttl") && err.contains(ttl), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// (expires_at, the row) of `env` in `status --format json`.
fn status_row(home: &std::path::Path, region: &str, env: &str) -> (String, Value) {
    let out = in_region(home, region)
        .args(["--format", "json", "status"])
        .output()
        .expect("status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = common::json(&out);
    let row = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["env"] == env)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {env}: {rows:#}"));
    let at = row["expires_at"].as_str().unwrap_or_default().to_owned();
    (at, row)
}

/// The `awslab:expires-at` of each pending or running instance of `env`.
async fn instance_stamps(ec2: &aws_sdk_ec2::Client, env: &str) -> Vec<(String, Option<String>)> {
    let running = ec2
        .describe_instances()
        .filters(common::tag_filter("awslab:env", env))
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .build(),
        )
        .send()
        .await
        .expect("instances");
    let stamps: Vec<(String, Option<String>)> = running
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            let stamp = i
                .tags()
                .iter()
                .find(|t| t.key() == Some("awslab:expires-at"))
                .and_then(|t| t.value().map(str::to_owned));
            (i.instance_id().unwrap_or_default().to_owned(), stamp)
        })
        .collect();
    // MiniStack's group instances are synthetic: not in `DescribeInstances`.
    if common::emulator() == "moto" {
        assert!(!stamps.is_empty(), "the group launched no instance");
    }
    stamps
}

/// The `awslab:expires-at` of the env's Auto Scaling group, and whether it propagates.
async fn group_stamp(region: &str, env: &str) -> (String, Option<bool>) {
    let conf = common::sdk_config(region).await;
    let groups = aws_sdk_autoscaling::Client::new(&conf)
        .describe_auto_scaling_groups()
        .send()
        .await
        .expect("groups");
    let group = groups
        .auto_scaling_groups()
        .iter()
        .find(|g| {
            g.tags()
                .iter()
                .any(|t| t.key() == Some("awslab:env") && t.value() == Some(env))
        })
        .expect("the env's group");
    let stamp = group
        .tags()
        .iter()
        .find(|t| t.key() == Some("awslab:expires-at"))
        .expect("the group's expiry");
    (
        stamp.value().unwrap_or_default().to_owned(),
        stamp.propagate_at_launch(),
    )
}

/// Instances an Auto Scaling group launched keep the stamp they launched with: they do not
/// count for the env's expiry, and `up --ttl` stamps them again with their group's propagated
/// tag. A stamp that is not a time hides nothing and is named in `status`.
#[tokio::test(flavor = "multi_thread")]
async fn extending_the_ttl_covers_the_group_and_its_instances() {
    let region = "eu-west-3";
    let home = tempfile::tempdir().expect("home");
    let lab = common::root()
        .join("tests/labs/asg-basic.toml")
        .display()
        .to_string();
    let env = common::env_name("extend");
    let up = |ttl: &str| {
        let out = in_region(home.path(), region)
            .args(["--env", &env, "up", &lab, "--yes", "--ttl", ttl])
            .output()
            .expect("up");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    up("6h");
    let (expires, _) = status_row(home.path(), region, &env);
    let ec2 = common::ec2_in(region).await;

    // The group's instances as if launched before the last extension: an earlier stamp.
    for (id, _) in instance_stamps(&ec2, &env).await {
        ec2.create_tags()
            .resources(id)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("awslab:expires-at")
                    .value("2026-01-01T00:00:00Z")
                    .build(),
            )
            .send()
            .await
            .expect("tag");
    }
    let (still, row) = status_row(home.path(), region, &env);
    assert_eq!(still, expires, "{row:#}");

    // Extended: the group's propagated tag and its running instances say the new time.
    up("7h");
    let (extended, propagates) = group_stamp(region, &env).await;
    assert!(extended > expires, "{extended} after {expires}");
    assert_eq!(propagates, Some(true));
    let stamps = instance_stamps(&ec2, &env).await;
    assert!(
        stamps
            .iter()
            .all(|(_, s)| s.as_deref() == Some(extended.as_str())),
        "{stamps:?} (want {extended})"
    );
    let (expires, _) = status_row(home.path(), region, &env);

    // A stamp written by hand that is not a time.
    let vpcs = ec2
        .describe_vpcs()
        .filters(common::tag_filter("awslab:env", &env))
        .send()
        .await
        .expect("vpcs");
    let vpc = vpcs.vpcs()[0].vpc_id().expect("vpc id").to_owned();
    ec2.create_tags()
        .resources(&vpc)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("awslab:expires-at")
                .value("1h")
                .build(),
        )
        .send()
        .await
        .expect("tag");
    let (still, row) = status_row(home.path(), region, &env);
    assert_eq!(still, expires, "{row:#}");
    let bad = row["unreadable_expiry"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        bad.iter()
            .any(|b| b["id"] == vpc.as_str() && b["value"] == "1h"),
        "{row:#}"
    );
    let text = in_region(home.path(), region)
        .args(["status"])
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&vpc) && text.contains("`1h`"), "{text}");

    let down = in_region(home.path(), region)
        .args(["--env", &env, "down", &lab, "--yes"])
        .output()
        .expect("down");
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}
