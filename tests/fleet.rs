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
async fn sweep_over_budget_deletes_only_the_envs_whose_estimate_passed_their_budget() {
    let region = "ap-northeast-2";
    let home = tempfile::tempdir().expect("home");
    let lab = basic_lab();
    let tag = std::process::id();
    let (spent, thrifty, free) = (
        format!("spent-{tag}"),
        format!("thrifty-{tag}"),
        format!("free-{tag}"),
    );
    // The lab's instance costs about $0.01/h: a millionth of a dollar is spent within a second.
    for (env, budget) in [
        (&spent, Some("0.000001")),
        (&thrifty, Some("1000")),
        (&free, None),
    ] {
        let mut cmd = in_region(home.path(), region);
        cmd.args(["--env", env, "up", &lab, "--yes"]);
        if let Some(b) = budget {
            cmd.args(["--budget", b]);
        }
        let out = cmd.output().expect("up");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = in_region(home.path(), region)
        .args(["--format", "json", "status"])
        .output()
        .expect("status");
    let listed = common::json(&out);
    let of = |env: &str| {
        listed
            .as_array()
            .expect("array")
            .iter()
            .find(|e| e["env"] == env)
            .cloned()
            .unwrap_or_else(|| panic!("{env} not listed: {listed}"))
    };
    assert_eq!(of(&spent)["budget"].as_f64(), Some(0.000001));
    assert!(of(&spent)["spent"].as_f64().unwrap_or(0.0) > 0.000001);
    assert_eq!(of(&thrifty)["budget"].as_f64(), Some(1000.0));
    assert!(of(&free)["budget"].is_null());

    let dry = in_region(home.path(), region)
        .args(["sweep", "--over-budget"])
        .output()
        .expect("sweep");
    assert!(dry.status.success());
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains(&spent) && !text.contains(&thrifty) && !text.contains(&free),
        "{text}"
    );
    assert!(text.contains("(over)"), "{text}");
    let wet = in_region(home.path(), region)
        .args(["sweep", "--over-budget", "--yes"])
        .output()
        .expect("sweep --yes");
    assert!(
        wet.status.success(),
        "{}",
        String::from_utf8_lossy(&wet.stderr)
    );
    let after = status(home.path(), region, false);
    assert!(envs_named(&after, &spent).is_empty(), "{after:?}");
    assert_eq!(envs_named(&after, &thrifty), vec![thrifty.clone()]);
    assert_eq!(envs_named(&after, &free), vec![free.clone()]);
    for env in [&thrifty, &free] {
        let out = in_region(home.path(), region)
            .args(["--env", env, "down", &lab, "--yes"])
            .output()
            .expect("down");
        assert!(out.status.success());
    }
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

/// `awslab` with the credentials of another account.
fn as_account(
    home: &std::path::Path,
    creds: &aws_sdk_sts::types::Credentials,
) -> assert_cmd::Command {
    let mut cmd = common::awslab(home);
    cmd.env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env("AWS_SESSION_TOKEN", creds.session_token());
    cmd
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stderr with the diagnostic's line wrapping undone (words joined by single spaces).
fn flat_stderr(out: &std::process::Output) -> String {
    stderr(out)
        .split_whitespace()
        .filter(|w| !matches!(*w, "│" | "×"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread")]
async fn up_down_and_sweep_refuse_a_production_account_without_force() {
    let creds = production_account("acme-prod").await;
    let home = tempfile::tempdir().expect("home");
    let lab = basic_lab();
    let env = common::env_name("prod");
    let as_prod = |args: &[&str]| {
        as_account(home.path(), &creds)
            .args(args)
            .output()
            .expect("run")
    };
    let refused_as_production = |out: &std::process::Output| {
        let err = flat_stderr(out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("alias `acme-prod`"), "{err}");
        assert!(err.contains("looks like production"), "{err}");
        assert!(err.contains("--force"), "{err}");
        // The account id and region were shown before refusing.
        assert!(err.contains("region us-east-1"), "{err}");
    };
    refused_as_production(&as_prod(&["--env", &env, "up", &lab, "--yes"]));
    // Refused before creating anything.
    let listed = as_prod(&["--format", "json", "status"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains(&env),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
    let up = as_prod(&["--env", &env, "up", &lab, "--yes", "--force"]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(
        stderr(&up).contains("because of --force"),
        "{}",
        stderr(&up)
    );
    for args in [
        vec!["--env", env.as_str(), "down", lab.as_str(), "--yes"],
        vec!["sweep", "--yes"],
    ] {
        refused_as_production(&as_prod(&args));
    }
    let forced = as_prod(&["--env", &env, "down", &lab, "--yes", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
}

/// The account id the emulator gives the test credentials.
async fn test_account() -> String {
    let conf = common::sdk_config("us-east-1").await;
    aws_sdk_sts::Client::new(&conf)
        .get_caller_identity()
        .send()
        .await
        .expect("caller")
        .account()
        .expect("account")
        .to_owned()
}

/// An account whose alias cannot be read (a student role without `iam:ListAccountAliases`) is
/// refused without --force: awslab cannot tell whether it is production. The allow-list
/// vouches for an account without asking for its alias.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_alias_is_refused_without_force() {
    use common::proxy::{Fault, FaultProxy, Faults};
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            scripts: vec![(
                "ListAccountAliases".to_owned(),
                1000,
                Fault::new(
                    403,
                    "AccessDenied",
                    "User is not authorized to perform: iam:ListAccountAliases (injected)",
                ),
            )],
            ..Faults::default()
        },
    )
    .await;
    let home = tempfile::tempdir().expect("home");
    let lab = common::test_lab("iam-basic");
    let env = common::env_name("noalias");
    let run = |args: &[&str], allowed: Option<&str>| {
        let mut cmd = common::awslab(home.path());
        cmd.env("AWS_ENDPOINT_URL", &proxy.url)
            .args(["--env", &env])
            .args(args);
        if let Some(a) = allowed {
            cmd.env("AWSLAB_ALLOWED_ACCOUNTS", a);
        }
        cmd.output().expect("run")
    };
    let up = ["up", lab.as_str(), "--stage", "setup", "--yes"];
    let down = ["down", lab.as_str(), "--yes"];
    for args in [&up[..], &down[..]] {
        let refused = run(args, None);
        let err = flat_stderr(&refused);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("cannot read the alias"), "{err}");
        assert!(err.contains("AccessDenied"), "{err}");
        assert!(err.contains("--force"), "{err}");
        assert!(err.contains("AWSLAB_ALLOWED_ACCOUNTS"), "{err}");
    }
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
    let forced = run(&[&up[..], &["--force"]].concat(), None);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(
        stderr(&forced).contains("because of --force"),
        "{}",
        stderr(&forced)
    );
    assert!(!common::tagged_left(&env).await.is_empty());
    // Allowed by the list: the alias is not asked for.
    let asked = proxy.counts.action("ListAccountAliases").0;
    let account = test_account().await;
    let again = run(&up, Some(&account));
    assert!(again.status.success(), "{}", stderr(&again));
    let gone = run(&down, Some(&account));
    assert!(gone.status.success(), "{}", stderr(&gone));
    assert_eq!(proxy.counts.action("ListAccountAliases").0, asked);
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
}

/// With an allow-list (`AWSLAB_ALLOWED_ACCOUNTS`, else `allowed_accounts` in the config file),
/// awslab acts on no other account, not even with --force. Its own region: a sweep that was
/// not refused would delete only this test's environments.
#[tokio::test(flavor = "multi_thread")]
async fn the_allow_list_is_the_only_account_awslab_acts_on() {
    let region = "me-south-1";
    let home = tempfile::tempdir().expect("home");
    let lab = common::test_lab("iam-basic");
    let env = common::env_name("allow");
    let account = test_account().await;
    let other = if account == "111111111111" {
        "222222222222"
    } else {
        "111111111111"
    };
    let run = |args: &[&str], allowed: Option<&str>| {
        let mut cmd = in_region(home.path(), region);
        cmd.args(["--env", &env]).args(args);
        if let Some(a) = allowed {
            cmd.env("AWSLAB_ALLOWED_ACCOUNTS", a);
        }
        cmd.output().expect("run")
    };
    let up = ["up", lab.as_str(), "--stage", "setup", "--yes", "--force"];
    let down = ["down", lab.as_str(), "--yes", "--force"];
    let sweep = ["sweep", "--yes", "--force"];
    let refused_for = |out: &std::process::Output| {
        let err = flat_stderr(out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("account {account}")), "{err}");
        assert!(err.contains("not in the allow-list"), "{err}");
        err
    };
    let err = refused_for(&run(&up, Some(&format!("{other}, 333333333333"))));
    assert!(err.contains("AWSLAB_ALLOWED_ACCOUNTS"), "{err}");
    assert_eq!(
        common::tagged_left_in(region, &env).await,
        Vec::<String>::new()
    );
    let allowed = run(&up, Some(&format!("{other},{account}")));
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    for args in [&down[..], &sweep[..]] {
        refused_for(&run(args, Some(other)));
        assert!(!common::tagged_left_in(region, &env).await.is_empty());
    }
    // The config file, when the variable is not set.
    let config = home.path().join("config.toml");
    std::fs::write(&config, format!("allowed_accounts = [\"{other}\"]\n")).expect("config");
    let err = refused_for(&run(&sweep, None));
    assert!(err.contains(&config.display().to_string()), "{err}");
    assert!(!common::tagged_left_in(region, &env).await.is_empty());
    std::fs::write(&config, "allowed_accounts = [\"12345\"]\n").expect("config");
    let bad = run(&down, None);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("12345"), "{}", stderr(&bad));
    std::fs::write(&config, format!("allowed_accounts = [\"{account}\"]\n")).expect("config");
    let gone = run(&down, None);
    assert!(gone.status.success(), "{}", stderr(&gone));
    assert_eq!(
        common::tagged_left_in(region, &env).await,
        Vec::<String>::new()
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
    let (expires, row) = status_row(home.path(), region, &env);
    if common::emulator() == "moto" {
        // moto shows a launch template's creation-time tags in `DescribeLaunchTemplates`
        // (localstack/README.md): the template's stamp is read where moto keeps it.
        let filter = |name: &str, value: &str| {
            aws_sdk_ec2::types::Filter::builder()
                .name(name)
                .values(value)
                .build()
        };
        let templates = ec2
            .describe_launch_templates()
            .filters(common::tag_filter("awslab:env", &env))
            .send()
            .await
            .expect("templates");
        let ids: Vec<&str> = templates
            .launch_templates()
            .iter()
            .filter_map(|t| t.launch_template_id())
            .collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
        let stamps = ec2
            .describe_tags()
            .filters(filter("key", "awslab:expires-at"))
            .filters(filter("resource-id", ids[0]))
            .send()
            .await
            .expect("tags");
        let stamp = stamps.tags().first().and_then(|t| t.value());
        assert_eq!(stamp, Some(extended.as_str()), "{row:#}");
    } else {
        assert_eq!(
            expires, extended,
            "the env expires at the extended time: {row:#}"
        );
    }

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

/// (name, path) of the IAM roles and of the instance profiles under `/awslab/<lab>/<env>/`.
async fn iam_of(lab: &str, env: &str) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let iam = aws_sdk_iam::Client::new(&common::sdk_config("us-east-1").await);
    let prefix = format!("/awslab/{lab}/{env}/");
    let roles = iam
        .list_roles()
        .path_prefix(&prefix)
        .send()
        .await
        .expect("roles");
    let profiles = iam
        .list_instance_profiles()
        .path_prefix(&prefix)
        .send()
        .await
        .expect("profiles");
    // Filtered here too: one emulator ignores `PathPrefix` on some listings.
    let mut r: Vec<(String, String)> = roles
        .roles()
        .iter()
        .filter(|r| r.path().starts_with(&prefix))
        .map(|r| (r.role_name().to_owned(), r.path().to_owned()))
        .collect();
    let mut p: Vec<(String, String)> = profiles
        .instance_profiles()
        .iter()
        .filter(|p| p.path().starts_with(&prefix))
        .map(|p| (p.instance_profile_name().to_owned(), p.path().to_owned()))
        .collect();
    r.sort();
    p.sort();
    (r, p)
}

/// A role and its instance profile as awslab made them before IAM was scoped to regions:
/// under `/awslab/<lab>/<env>/<name>/`, named `awslab-<lab>-<env>-<name>`.
async fn legacy_iam(lab: &str, env: &str) {
    let iam = aws_sdk_iam::Client::new(&common::sdk_config("us-east-1").await);
    let role = format!("awslab-{lab}-{env}-ec2-role");
    let profile = format!("awslab-{lab}-{env}-ec2-profile");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name(&role)
        .path(format!("/awslab/{lab}/{env}/ec2-role/"))
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("legacy role");
    iam.create_instance_profile()
        .instance_profile_name(&profile)
        .path(format!("/awslab/{lab}/{env}/ec2-profile/"))
        .send()
        .await
        .expect("legacy profile");
    iam.add_role_to_instance_profile()
        .instance_profile_name(&profile)
        .role_name(&role)
        .send()
        .await
        .expect("legacy profile's role");
}

/// IAM is global, a lab environment regional: the same lab and env in two regions get a role
/// and a profile each, and `down` in one region leaves the other region's alone.
#[tokio::test(flavor = "multi_thread")]
async fn iam_belongs_to_the_region_that_made_it() {
    let (a, b) = ("eu-south-1", "eu-south-2");
    let home = tempfile::tempdir().expect("home");
    let lab = common::test_lab("iam-basic");
    let env = common::env_name("iam-regions");
    for region in [a, b] {
        let up = common::run_in(home.path(), region, &env, &["up", &lab, "--yes"]);
        assert!(up.status.success(), "{}", stderr(&up));
    }
    let (roles, profiles) = iam_of("iam-basic", &env).await;
    assert_eq!(roles.len(), 2, "{roles:?}");
    assert_eq!(profiles.len(), 2, "{profiles:?}");
    for region in [a, b] {
        let here = |list: &[(String, String)]| {
            list.iter()
                .filter(|(_, path)| path.contains(&format!("/{region}/")))
                .count()
        };
        assert_eq!(here(&roles), 1, "{roles:?}");
        assert_eq!(here(&profiles), 1, "{profiles:?}");
    }
    assert!(roles.iter().all(|(n, _)| n.len() <= 64));
    assert_ne!(roles[0].0, roles[1].0, "{roles:?}");
    // Each region's environment counts its own IAM: VPC, role and profile.
    let listed = common::json(
        &in_region(home.path(), b)
            .args(["--format", "json", "status"])
            .output()
            .expect("status"),
    );
    let row = listed
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["env"] == env.as_str())
        .cloned()
        .expect("env listed");
    assert_eq!(row["region"], b);
    assert_eq!(row["resources"], 3, "{row}");

    let down = common::run_in(home.path(), a, &env, &["down", &lab, "--yes"]);
    assert!(down.status.success(), "{}", stderr(&down));
    let (roles, profiles) = iam_of("iam-basic", &env).await;
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert!(roles[0].1.contains(b), "{roles:?}");
    assert_eq!(profiles.len(), 1, "{profiles:?}");
    assert!(profiles[0].1.contains(b), "{profiles:?}");
    let check = common::run_in(home.path(), b, &env, &["check", &lab]);
    assert!(check.status.success(), "{}", stderr(&check));

    let down = common::run_in(home.path(), b, &env, &["down", &lab, "--yes"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(iam_of("iam-basic", &env).await, (Vec::new(), Vec::new()));
}

/// A role and profile from before IAM was scoped to regions belong to the env in every region:
/// `down` in one region keeps them while another region still has the env; the last one
/// deletes them.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_iam_goes_with_the_last_region_of_its_env() {
    let (kept, elsewhere) = ("af-south-1", "ap-south-2");
    let home = tempfile::tempdir().expect("home");
    let lab = common::test_lab("iam-basic");
    let env = common::env_name("iam-legacy");
    legacy_iam("iam-basic", &env).await;
    let up = common::run_in(
        home.path(),
        kept,
        &env,
        &["up", &lab, "--stage", "setup", "--yes"],
    );
    assert!(up.status.success(), "{}", stderr(&up));
    let legacy = iam_of("iam-basic", &env).await;
    assert_eq!((legacy.0.len(), legacy.1.len()), (1, 1), "{legacy:?}");

    let down = common::run_in(home.path(), elsewhere, &env, &["down", &lab, "--yes"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(stderr(&down).contains(kept), "{}", stderr(&down));
    assert_eq!(iam_of("iam-basic", &env).await, legacy);
    // Not a leftover while the env is up somewhere.
    let everywhere = status(home.path(), elsewhere, true);
    let rows: Vec<&String> = everywhere
        .iter()
        .filter(|(e, _, _)| *e == env)
        .map(|(_, r, _)| r)
        .collect();
    assert_eq!(rows, vec![kept], "{everywhere:?}");

    let down = common::run_in(home.path(), kept, &env, &["down", &lab, "--yes"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(iam_of("iam-basic", &env).await, (Vec::new(), Vec::new()));
    assert_eq!(
        common::tagged_left_in(kept, &env).await,
        Vec::<String>::new()
    );
}

/// IAM whose env no region has is a leftover only when every region was looked at: with
/// `--all-regions`, its own row (region `global`); without, not shown, since the env may live
/// in a region not looked at.
#[tokio::test(flavor = "multi_thread")]
async fn iam_leftovers_are_listed_only_when_every_region_was_looked_at() {
    let region = "ca-west-1";
    let home = tempfile::tempdir().expect("home");
    let lab = common::test_lab("iam-basic");
    let env = common::env_name("iam-left");
    legacy_iam("iam-basic", &env).await;
    let mine = |list: Vec<(String, String, Option<String>)>| -> Vec<String> {
        list.into_iter()
            .filter(|(e, _, _)| *e == env)
            .map(|(_, r, _)| r)
            .collect()
    };
    assert_eq!(
        mine(status(home.path(), region, false)),
        Vec::<String>::new()
    );
    assert_eq!(mine(status(home.path(), region, true)), vec!["global"]);
    let dry = in_region(home.path(), region)
        .args(["sweep"])
        .output()
        .expect("sweep");
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        !String::from_utf8_lossy(&dry.stdout).contains(&env),
        "{}",
        String::from_utf8_lossy(&dry.stdout)
    );
    let dry = in_region(home.path(), region)
        .args(["sweep", "--all-regions"])
        .output()
        .expect("sweep --all-regions");
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains(&env),
        "{}",
        String::from_utf8_lossy(&dry.stdout)
    );
    let down = common::run_in(home.path(), region, &env, &["down", &lab, "--yes"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(iam_of("iam-basic", &env).await, (Vec::new(), Vec::new()));
}

/// A role and profile under this env's name and path that `up` did not make (an answer lost
/// after IAM made them) are carried on with; a role of that name under another path is
/// refused (`NotOurs`, not adopted), and nothing of the other owner changes.
#[tokio::test(flavor = "multi_thread")]
async fn an_existing_role_is_carried_on_with_only_under_the_owners_path() {
    use awslab::aws::tags::Owner;
    use awslab::resources::iam::{iam_name_of, path_of};
    let region = "sa-east-1";
    let home = tempfile::tempdir().expect("home");
    let lab = common::test_lab("iam-basic");
    let env = common::env_name("iam-lost");
    let owner = Owner::new("iam-basic", &env);
    let iam = aws_sdk_iam::Client::new(&common::sdk_config(region).await);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam_name_of(&owner, region, "ec2-role");
    let profile = iam_name_of(&owner, region, "ec2-profile");
    iam.create_role()
        .role_name(&role)
        .path(path_of(&owner, region, "ec2-role"))
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("role");
    iam.create_instance_profile()
        .instance_profile_name(&profile)
        .path(path_of(&owner, region, "ec2-profile"))
        .send()
        .await
        .expect("profile");
    let up = common::run_in(home.path(), region, &env, &["up", &lab, "--yes"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let held = iam
        .get_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await
        .expect("profile");
    let roles: Vec<&str> = held
        .instance_profile()
        .map(|p| p.roles().iter().map(|r| r.role_name()).collect())
        .unwrap_or_default();
    assert_eq!(roles, vec![role.as_str()]);
    let down = common::run_in(home.path(), region, &env, &["down", &lab, "--yes"]);
    assert!(down.status.success(), "{}", stderr(&down));

    // The same name under another path is someone else's.
    iam.create_role()
        .role_name(&role)
        .path("/someone/")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("role");
    let up = common::run_in(home.path(), region, &env, &["up", &lab, "--yes"]);
    assert!(!up.status.success());
    assert!(stderr(&up).contains("NotOurs"), "{}", stderr(&up));
    let theirs = iam.get_role().role_name(&role).send().await.expect("role");
    assert_eq!(theirs.role().map(|r| r.path()), Some("/someone/"));
    let down = common::run_in(home.path(), region, &env, &["down", &lab, "--yes"]);
    assert!(down.status.success(), "{}", stderr(&down));
    iam.delete_role()
        .role_name(&role)
        .send()
        .await
        .expect("clean up");
    assert_eq!(
        common::tagged_left_in(region, &env).await,
        Vec::<String>::new()
    );
}
