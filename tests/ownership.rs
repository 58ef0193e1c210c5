//! Teardown that does not need what it cannot have: a kind the credentials may not list is
//! reported as not looked at while the rest goes on; `down` needs only the lab's id (its file
//! may no longer validate), `sweep --lab` needs no file at all; a `./labs/<id>.toml` names its
//! lab; creates that take a client token send the same one on every attempt.

mod common;

use std::process::Output;

use common::proxy::{Fault, FaultProxy, Faults};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn access_denied() -> Fault {
    Fault::new(
        403,
        "AccessDenied",
        "User is not authorized to perform: s3:ListAllMyBuckets (injected)",
    )
}

/// A student role that may not list S3: `down` of the VPC lab still deletes everything of the
/// VPC lab, says that S3 was not looked at (with the error), and exits 1.
#[tokio::test(flavor = "multi_thread")]
async fn a_kind_that_cannot_be_listed_is_not_looked_at_and_the_rest_goes_on() {
    let env = common::env_name("denied");
    let home = tempfile::tempdir().expect("home");
    let lab = common::cycle_lab();
    let up = common::awslab(home.path())
        .args(["--env", &env, "up", &lab, "--yes"])
        .output()
        .expect("up");
    assert!(up.status.success(), "{}", stderr(&up));
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            scripts: vec![("GET /".to_owned(), 1000, access_denied())],
            ..Faults::default()
        },
    )
    .await;
    let down = common::awslab_via(home.path(), &proxy.url)
        .args(["--env", &env, "--format", "json", "down", &lab, "--yes"])
        .output()
        .await
        .expect("down");
    let err = stderr(&down);
    assert_eq!(down.status.code(), Some(1), "{err}");
    assert!(
        err.contains("s3_bucket not looked at") && err.contains("AccessDenied"),
        "{err}"
    );
    let report = common::json(&down);
    let not_looked: Vec<&str> = report["not_looked_at"]
        .as_array()
        .expect("not_looked_at")
        .iter()
        .filter_map(|u| u["kind"].as_str())
        .collect();
    assert!(not_looked.contains(&"s3_bucket"), "{report}");
    assert!(
        report["left"].as_array().is_some_and(Vec::is_empty),
        "{report}"
    );
    // Everything the VPC lab made is gone all the same.
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
}

/// `status` and `sweep` go on past a kind they may not list, and say so (exit 1).
#[tokio::test(flavor = "multi_thread")]
async fn status_and_sweep_say_what_they_could_not_look_at() {
    let env = common::env_name("sweepdenied");
    let home = tempfile::tempdir().expect("home");
    let lab = common::cycle_lab();
    let up = common::awslab(home.path())
        .args(["--env", &env, "up", &lab, "--yes"])
        .output()
        .expect("up");
    assert!(up.status.success(), "{}", stderr(&up));
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            scripts: vec![("GET /".to_owned(), 1000, access_denied())],
            ..Faults::default()
        },
    )
    .await;
    let status = common::awslab_via(home.path(), &proxy.url)
        .args(["--format", "json", "status"])
        .output()
        .await
        .expect("status");
    assert_eq!(status.status.code(), Some(1), "{}", stderr(&status));
    assert!(
        stderr(&status).contains("not looked at: s3_bucket"),
        "{}",
        stderr(&status)
    );
    let envs = common::json(&status);
    assert!(
        envs.as_array()
            .is_some_and(|a| a.iter().any(|e| e["env"] == env.as_str())),
        "the env is still listed: {envs}"
    );
    // The sweep of this env goes through, and exits 1 for what it could not look at.
    let lab_id = if lab.ends_with(".toml") {
        "vpc-basic"
    } else {
        lab.as_str()
    };
    let sweep = common::awslab_via(home.path(), &proxy.url)
        .args(["--env", &env, "sweep", "--lab", lab_id, "--yes"])
        .output()
        .await
        .expect("sweep");
    let err = stderr(&sweep);
    assert_eq!(sweep.status.code(), Some(1), "{err}");
    assert!(err.contains("not looked at"), "{err}");
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
}

/// A copy of the lab in a folder of its own, as a user keeps one.
fn lab_copy(dir: &std::path::Path) -> std::path::PathBuf {
    let src = common::root().join("tests/labs/vpc-basic.toml");
    let text = std::fs::read_to_string(src).expect("vpc-basic");
    let path = dir.join("my-vpc.toml");
    std::fs::write(&path, text.replace("id = \"vpc-basic\"", "id = \"my-vpc\"")).expect("write");
    path
}

/// `down` of a lab whose file no longer validates (a typo in the local copy) finds what its id
/// tagged and deletes it; `validate` of the same file fails, as it should.
#[tokio::test(flavor = "multi_thread")]
async fn down_needs_only_the_lab_id() {
    let env = common::env_name("broken");
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("lab dir");
    let file = lab_copy(dir.path());
    let file = file.to_str().expect("utf-8 path");
    let up = common::awslab(home.path())
        .args(["--env", &env, "up", file, "--yes"])
        .output()
        .expect("up");
    assert!(up.status.success(), "{}", stderr(&up));
    // A typo in a resource type: the file no longer validates.
    let text = std::fs::read_to_string(file).expect("read");
    std::fs::write(
        file,
        text.replacen("type = \"subnet\"", "type = \"subnett\"", 1),
    )
    .expect("break it");
    let validate = common::awslab(home.path())
        .args(["validate", file])
        .output()
        .expect("validate");
    assert_eq!(validate.status.code(), Some(2));
    let down = common::awslab(home.path())
        .args(["--env", &env, "down", file, "--yes"])
        .output()
        .expect("down");
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
}

/// `sweep --lab L --env E` tears down a lab whose file is gone altogether.
#[tokio::test(flavor = "multi_thread")]
async fn sweep_lab_tears_down_a_lab_without_a_file() {
    let env = common::env_name("nofile");
    let other = common::env_name("nofile-other");
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("lab dir");
    let file = lab_copy(dir.path());
    let file_str = file.to_str().expect("utf-8 path");
    for e in [&env, &other] {
        let up = common::awslab(home.path())
            .args(["--env", e, "up", file_str, "--yes"])
            .output()
            .expect("up");
        assert!(up.status.success(), "{}", stderr(&up));
    }
    std::fs::remove_file(&file).expect("remove the lab file");
    let sweep = common::awslab(home.path())
        .args(["--env", &env, "sweep", "--lab", "my-vpc", "--yes"])
        .output()
        .expect("sweep");
    assert!(sweep.status.success(), "{}", stderr(&sweep));
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
    // Only that env: the other one is untouched, then swept the same way.
    assert!(!common::tagged_left(&other).await.is_empty());
    let sweep = common::awslab(home.path())
        .args(["--env", &other, "sweep", "--lab", "my-vpc", "--yes"])
        .output()
        .expect("sweep other");
    assert!(sweep.status.success(), "{}", stderr(&sweep));
    assert_eq!(common::tagged_left(&other).await, Vec::<String>::new());
}

/// `./labs/<id>.toml` whose `id` says something else is an error before any call (its resources
/// would be tagged with another id than the one typed).
#[test]
fn a_labs_file_names_its_lab() {
    let dir = tempfile::tempdir().expect("cwd");
    std::fs::create_dir(dir.path().join("labs")).expect("labs");
    let text = std::fs::read_to_string(common::root().join("tests/labs/vpc-basic.toml"))
        .expect("vpc-basic");
    std::fs::write(dir.path().join("labs/web.toml"), text).expect("write");
    for args in [vec!["show", "web"], vec!["--local", "down", "web", "--yes"]] {
        let out = assert_cmd::Command::cargo_bin("awslab")
            .expect("binary")
            .current_dir(dir.path())
            .env("AWSLAB_HOME", dir.path())
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .args(&args)
            .output()
            .expect("run");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("says `id = \"vpc-basic\"`, but its name says `web`"),
            "{args:?}: {err}"
        );
    }
}

/// A RunInstances whose answer is lost is sent again by the SDK with the same client token, so
/// AWS launches one instance, not two.
#[tokio::test(flavor = "multi_thread")]
async fn a_retried_run_instances_carries_the_same_client_token() {
    let env = common::env_name("token");
    let home = tempfile::tempdir().expect("home");
    let lab = common::cycle_lab();
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            scripts: vec![(
                "RunInstances".to_owned(),
                1,
                Fault::new(503, "ServiceUnavailable", "lost (injected)"),
            )],
            record: vec!["RunInstances".to_owned(), "CreateRouteTable".to_owned()],
            ..Faults::default()
        },
    )
    .await;
    let up = common::awslab_via(home.path(), &proxy.url)
        .args(["--env", &env, "up", &lab, "--yes"])
        .output()
        .await
        .expect("up");
    assert!(up.status.success(), "{}", stderr(&up));
    let token = |body: &String| {
        body.split('&')
            .find_map(|kv| kv.strip_prefix("ClientToken="))
            .map(str::to_owned)
    };
    // One request per instance, plus the one the SDK sent again after the lost answer: that
    // one with the token of the first.
    let runs = proxy.counts.bodies("RunInstances");
    let tokens: Vec<String> = runs
        .iter()
        .map(|b| token(b).expect("RunInstances carries a client token"))
        .collect();
    assert!(
        tokens.iter().all(|t| t.starts_with("awslab-")),
        "{tokens:?}"
    );
    let mut distinct = tokens.clone();
    distinct.sort();
    distinct.dedup();
    // Exactly one token twice: the lost first attempt and its retry (instances launch in
    // parallel, so the retry need not follow it directly).
    assert_eq!(tokens.len(), distinct.len() + 1, "{tokens:?}");
    // The request the proxy failed is the one sent again (the order in which concurrent
    // requests are recorded need not be the order the fault was decided in).
    let lost: Vec<String> = proxy
        .counts
        .failed_bodies("RunInstances")
        .iter()
        .map(|b| token(b).expect("the lost RunInstances carries a client token"))
        .collect();
    assert_eq!(lost.len(), 1, "one RunInstances failed: {lost:?}");
    assert_eq!(
        tokens.iter().filter(|t| **t == lost[0]).count(),
        2,
        "the lost first request is sent again: {tokens:?}"
    );
    for body in proxy.counts.bodies("CreateRouteTable") {
        assert!(
            token(&body).is_some(),
            "CreateRouteTable without a token: {body}"
        );
    }
    let down = common::awslab(home.path())
        .args(["--env", &env, "down", &lab, "--yes"])
        .output()
        .expect("down");
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
}

/// A kind that lives in VPCs and cannot be listed: the VPC (like its subnets and security
/// groups) is tried once, not for its whole delete deadline, and when it refuses it is reported
/// left with that reason; the rest goes; a later `down` that can list everything finishes.
#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_whose_contents_cannot_all_be_listed_is_tried_once() {
    let env = common::env_name("vpcblind");
    let home = tempfile::tempdir().expect("home");
    let lab = common::cycle_lab();
    let up = common::awslab(home.path())
        .args(["--env", &env, "up", &lab, "--yes"])
        .output()
        .expect("up");
    assert!(up.status.success(), "{}", stderr(&up));
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            scripts: vec![
                (
                    "DescribeVpcEndpoints".to_owned(),
                    1000,
                    Fault::new(
                        403,
                        "UnauthorizedOperation",
                        "You are not authorized to perform this operation (injected)",
                    ),
                ),
                // What nobody could look at holds the VPC.
                (
                    "DeleteVpc".to_owned(),
                    1000,
                    Fault::new(
                        400,
                        "DependencyViolation",
                        "The vpc has dependencies and cannot be deleted (injected)",
                    ),
                ),
            ],
            ..Faults::default()
        },
    )
    .await;
    let down = common::awslab_via(home.path(), &proxy.url)
        .args(["--env", &env, "--format", "json", "down", &lab, "--yes"])
        .output()
        .await
        .expect("down");
    let err = stderr(&down);
    assert_eq!(down.status.code(), Some(1), "{err}");
    let report = common::json(&down);
    let left: Vec<(&str, &str)> = report["left"]
        .as_array()
        .expect("left")
        .iter()
        .map(|l| {
            (
                l["type"].as_str().unwrap_or_default(),
                l["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(left.len(), 1, "{report:#}");
    assert_eq!(left[0].0, "vpc", "{report:#}");
    assert!(
        left[0].1.contains("DependencyViolation")
            && left[0].1.contains("tried once")
            && left[0].1.contains("vpc_endpoint"),
        "{report:#}"
    );
    let (calls, _) = proxy.counts.action("DeleteVpc");
    assert_eq!(calls, 1, "DeleteVpc was retried");
    // Only the VPC is left.
    assert_eq!(
        common::tagged_left(&env).await.len(),
        1,
        "{:?}",
        common::tagged_left(&env).await
    );
    let again = common::awslab(home.path())
        .args(["--env", &env, "down", &lab, "--yes"])
        .output()
        .expect("down");
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
}
