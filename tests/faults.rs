//! The engine against what the emulators do not reproduce, through the fault proxy
//! (`common/proxy.rs`): throttling on a fifth of all calls, scripted dependency faults on delete,
//! a fault that never clears, and `up` killed with SIGKILL at many points. After each, `down`
//! must leave nothing tagged, and what belongs to others must survive untouched.

// The tallies of injected faults are the figures these tests report (`-- --nocapture`).
#![allow(clippy::print_stderr)]

mod common;

use std::process::Output;
use std::time::Duration;

use common::proxy::{Fault, FaultProxy, Faults};

async fn run(cmd: &mut tokio::process::Command) -> Output {
    cmd.output().await.expect("run awslab")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every lab the faults are tried on: the VPC lab (or its reduced form on MiniStack), the EFS
/// lab (IAM, EFS and their waits), the ALB lab (ELB, Auto Scaling, the group's drain) and the S3
/// lab (REST XML errors, a bucket's settings, emptying versions). Not the ECR lab: its
/// repository name is one per account and region, so parallel envs cannot share a region.
fn labs() -> Vec<String> {
    vec![
        common::cycle_lab(),
        "efs-shared-storage".to_owned(),
        common::alb_lab(),
        "s3-static-website".to_owned(),
    ]
}

/// `up`, `check`, `down` of every lab through `proxy`; each must succeed.
async fn cycle_through(proxy: &FaultProxy, env: &str) {
    for lab in labs() {
        cycle_lab_through(proxy, env, &lab).await;
    }
}

async fn cycle_lab_through(proxy: &FaultProxy, env: &str, lab: &str) {
    let home = tempfile::tempdir().expect("home");
    let up = run(common::awslab_via(home.path(), &proxy.url)
        .args(["--env", env, "--stats", "up", lab, "--yes"]))
    .await;
    assert!(up.status.success(), "up failed: {}", stderr(&up));
    let check =
        run(common::awslab_via(home.path(), &proxy.url)
            .args(["--env", env, "--stats", "check", lab]))
        .await;
    assert_eq!(
        check.status.code(),
        Some(0),
        "check failed: {}{}",
        String::from_utf8_lossy(&check.stdout),
        stderr(&check)
    );
    let down = run(common::awslab_via(home.path(), &proxy.url)
        .args(["--env", env, "--stats", "down", lab, "--yes"]))
    .await;
    assert!(down.status.success(), "down failed: {}", stderr(&down));
    assert_eq!(common::tagged_left(env).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_a_fifth_of_all_calls() {
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            throttle: 0.2,
            seed: 20261123,
            ..Faults::default()
        },
    )
    .await;
    let env = common::env_name("throttle");
    cycle_through(&proxy, &env).await;
    let (calls, injected) = (proxy.counts.calls(), proxy.counts.injected());
    eprintln!("throttling: {injected} faults injected in {calls} calls");
    assert!(
        injected * 10 > calls,
        "about a fifth: {injected} of {calls}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_and_latency() {
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            server_error: 0.1,
            latency: Duration::from_millis(20),
            seed: 5,
            ..Faults::default()
        },
    )
    .await;
    let env = common::env_name("5xx");
    cycle_through(&proxy, &env).await;
    eprintln!(
        "5xx: {} faults injected in {} calls",
        proxy.counts.injected(),
        proxy.counts.calls()
    );
    assert!(proxy.counts.injected() > 0);
}

/// Real AWS refuses deletes while service-owned interfaces linger and an EIP's release right after
/// its NAT gateway's delete; `down` must wait them out.
#[tokio::test(flavor = "multi_thread")]
async fn scripted_dependency_faults_on_delete() {
    let env = common::env_name("deps");
    let home = tempfile::tempdir().expect("home");
    let lab = common::cycle_lab();
    let up = common::awslab(home.path())
        .args(["--env", &env, "up", &lab, "--yes"])
        .output()
        .expect("up");
    assert!(up.status.success(), "up failed: {}", stderr(&up));
    let scripts = [
        ("DeleteSubnet", 3, Fault::dependency()),
        ("DeleteSecurityGroup", 2, Fault::dependency()),
        ("DetachInternetGateway", 2, Fault::dependency()),
        ("DeleteVpc", 2, Fault::dependency()),
        ("ReleaseAddress", 2, Fault::auth_failure()),
    ];
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            scripts: scripts
                .iter()
                .map(|(a, n, f)| ((*a).to_owned(), *n, f.clone()))
                .collect(),
            ..Faults::default()
        },
    )
    .await;
    let down =
        run(common::awslab_via(home.path(), &proxy.url)
            .args(["--env", &env, "down", &lab, "--yes"]))
        .await;
    assert!(down.status.success(), "down failed: {}", stderr(&down));
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
    let mut total = 0;
    // The MiniStack cycle lab (`vpc-basic`) has no Elastic IP; the VPC lab on moto has one.
    let has_address = common::emulator() != "ministack";
    for (action, times, _) in &scripts {
        let (calls, injected) = proxy.counts.action(action);
        assert!(
            calls > 0 || (*action == "ReleaseAddress" && !has_address),
            "{action} was never sent"
        );
        if calls > 0 {
            // The first `times` calls failed, and the engine came back until one passed.
            assert_eq!(injected, u64::from(*times), "{action}");
            assert!(calls > injected, "{action} never passed");
        }
        total += injected;
    }
    assert!(total >= 7, "scripted faults were not hit: {total}");
    eprintln!("scripted: {total} dependency faults injected");
}

/// A delete answered "not found" for something AWS still lists (eventual consistency) is not
/// counted: `down` asks a fresh listing, deletes again, and reports the address deleted only once
/// it is gone: an address counted as deleted while it stays allocated is still billed.
#[tokio::test(flavor = "multi_thread")]
async fn a_not_found_delete_of_what_is_still_listed_is_asked_again() {
    let env = common::env_name("notgone");
    let home = tempfile::tempdir().expect("home");
    let lab = common::cycle_lab();
    let up = common::awslab(home.path())
        .args(["--env", &env, "up", &lab, "--yes"])
        .output()
        .expect("up");
    assert!(up.status.success(), "up failed: {}", stderr(&up));
    // The lab's security groups and subnets answer "not found" twice while still there.
    let scripts = [
        (
            "DeleteSecurityGroup",
            2,
            Fault::new(
                400,
                "InvalidGroup.NotFound",
                "The security group does not exist (injected)",
            ),
        ),
        (
            "DeleteSubnet",
            2,
            Fault::new(
                400,
                "InvalidSubnetID.NotFound",
                "The subnet ID does not exist (injected)",
            ),
        ),
        (
            "ReleaseAddress",
            2,
            Fault::new(
                400,
                "InvalidAllocationID.NotFound",
                "The allocation ID does not exist (injected)",
            ),
        ),
    ];
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            scripts: scripts
                .iter()
                .map(|(a, n, f)| ((*a).to_owned(), *n, f.clone()))
                .collect(),
            ..Faults::default()
        },
    )
    .await;
    let down =
        run(common::awslab_via(home.path(), &proxy.url)
            .args(["--env", &env, "down", &lab, "--yes"]))
        .await;
    let err = stderr(&down);
    assert!(down.status.success(), "down failed: {err}");
    assert!(
        err.contains("but AWS still lists it: asking again"),
        "{err}"
    );
    // Nothing of the env is left: every not-found delete was sent again until it took.
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
    for (action, times, _) in &scripts {
        let (calls, injected) = proxy.counts.action(action);
        if calls > 0 {
            assert_eq!(injected, u64::from(*times), "{action}");
            assert!(
                calls > injected,
                "{action} was not sent again: {calls} calls"
            );
        }
    }
    assert!(
        proxy.counts.action("DeleteSecurityGroup").0 > 2,
        "the lab has security groups: {err}"
    );
}

/// A dependency that never clears: `down` gives up at the deadline, keeps going with independent
/// branches, lists what is left and why, and exits 1. A second `down` finishes the job.
#[tokio::test(flavor = "multi_thread")]
async fn a_fault_that_never_clears_is_reported_not_hidden() {
    let env = common::env_name("stuck");
    let home = tempfile::tempdir().expect("home");
    let lab = common::cycle_lab();
    let up = common::awslab(home.path())
        .args(["--env", &env, "up", &lab, "--yes"])
        .output()
        .expect("up");
    assert!(up.status.success(), "up failed: {}", stderr(&up));
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            scripts: vec![("DeleteSubnet".to_owned(), 1000, Fault::dependency())],
            ..Faults::default()
        },
    )
    .await;
    let down = run(common::awslab_via(home.path(), &proxy.url).args([
        "--env",
        &env,
        "--timeout",
        "3s",
        "down",
        &lab,
        "--yes",
    ]))
    .await;
    let err = stderr(&down);
    assert_eq!(down.status.code(), Some(1), "{err}");
    assert!(
        err.contains("DependencyViolation"),
        "names the AWS error code: {err}"
    );
    assert!(err.contains("could not be deleted"), "{err}");
    // The VPC waits for its subnets; everything independent of them is gone.
    let left = common::tagged_left(&env).await;
    assert!(left.iter().any(|id| id.starts_with("subnet-")), "{left:?}");
    assert!(
        left.iter()
            .all(|id| id.starts_with("subnet-") || id.starts_with("vpc-")),
        "independent branches must finish: {left:?}"
    );
    drop(proxy);
    let again = common::awslab(home.path())
        .args(["--env", &env, "down", &lab, "--yes"])
        .output()
        .expect("down again");
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(common::tagged_left(&env).await, Vec::<String>::new());
}

/// `up` killed with SIGKILL right after its n-th mutating call reached the emulator (the resource
/// exists, awslab never heard back): a second `up` converges, `check` passes, `down` leaves
/// nothing.
async fn killed_at(point: u32, lab: &str) -> Result<(), String> {
    let started = std::time::Instant::now();
    // One env per lab and point (lab ids, not path lengths: two labs' paths may be as long).
    let stem = std::path::Path::new(lab)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(lab);
    let env = common::env_name(&format!("kill{point}-{stem}"));
    let home = tempfile::tempdir().expect("home");
    let proxy = FaultProxy::start(
        &common::endpoint(),
        Faults {
            hang_at_mutation: Some(point),
            ..Faults::default()
        },
    )
    .await;
    let mut child = common::awslab_via(home.path(), &proxy.url)
        .args(["--env", &env, "up", lab, "--yes"])
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
            return Err(format!("point {point}: up finished ({status:?}) before its mutating call {point}"));
        }
        () = tokio::time::sleep(Duration::from_secs(120)) => {
            return Err(format!("point {point}: never reached"));
        }
    }
    let killed = started.elapsed();
    let mut out = Vec::new();
    for args in [
        vec!["--env", &env, "up", lab, "--yes"],
        vec!["--env", &env, "check", lab],
        vec!["--env", &env, "down", lab, "--yes"],
    ] {
        let o = common::awslab(home.path())
            .args(&args)
            .output()
            .expect("run");
        if !o.status.success() {
            return Err(format!(
                "point {point}: `{}` failed: {}{}",
                args[2],
                String::from_utf8_lossy(&o.stdout),
                stderr(&o)
            ));
        }
        out.push(o);
    }
    let left = common::tagged_left(&env).await;
    if !left.is_empty() {
        return Err(format!("point {point}: left {left:?}"));
    }
    eprintln!(
        "{lab} killed at {point}: after {:.1} s; up, check, down in {:.1} s",
        killed.as_secs_f64(),
        (started.elapsed() - killed).as_secs_f64()
    );
    Ok(())
}

/// Ten seeded kill points among the mutating calls of one `up` of `lab`.
async fn kill_points(lab: &str, seed: u64) -> Vec<u32> {
    // Mutating calls of one `up` (measured with the proxy's counter).
    let probe = FaultProxy::start(&common::endpoint(), Faults::default()).await;
    let env = common::env_name(&format!("probe{seed}"));
    let home = tempfile::tempdir().expect("home");
    let up =
        run(common::awslab_via(home.path(), &probe.url).args(["--env", &env, "up", lab, "--yes"]))
            .await;
    assert!(up.status.success(), "{}", stderr(&up));
    let mutations = u32::try_from(
        probe
            .counts
            .mutations
            .load(std::sync::atomic::Ordering::SeqCst),
    )
    .unwrap_or(0);
    let down = common::awslab(home.path())
        .args(["--env", &env, "down", lab, "--yes"])
        .output()
        .expect("down");
    assert!(down.status.success());
    assert!(mutations >= 10, "{lab}: only {mutations} mutating calls");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut points: Vec<u32> = (1..=mutations).collect();
    rng.shuffle(&mut points);
    let mut points: Vec<u32> = points.into_iter().take(10).collect();
    points.sort_unstable();
    eprintln!("{lab}: kill points among {mutations} mutating calls: {points:?}");
    points
}

#[tokio::test(flavor = "multi_thread")]
async fn up_killed_at_ten_points_per_lab_converges_and_cleans_up() {
    let mut runs = Vec::new();
    for (i, lab) in labs().into_iter().enumerate() {
        for p in kill_points(&lab, 11 + i as u64).await {
            runs.push((p, lab.clone()));
        }
    }
    let results = futures::future::join_all(runs.iter().map(|(p, lab)| killed_at(*p, lab))).await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The golden-ami lab (its reduced form on MiniStack: `common::ami_lab`) through throttling and
/// server errors on a share of its calls, and the refusals AWS gives while something still holds
/// what is deleted: a snapshot its image used (`InvalidSnapshot.InUse` right after the image is
/// deregistered) and a volume its instance has not let go of (`VolumeInUse`). `up`, `check` and
/// `down` succeed and leave nothing.
#[tokio::test(flavor = "multi_thread")]
async fn golden_ami_through_throttling_server_errors_and_in_use_refusals() {
    let scripts = [
        (
            "DeleteSnapshot",
            2,
            Fault::new(
                400,
                "InvalidSnapshot.InUse",
                "The snapshot snap-0 is currently in use by ami-0",
            ),
        ),
        (
            "DeleteVolume",
            2,
            Fault::new(
                400,
                "VolumeInUse",
                "Volume vol-0 is currently attached to i-0",
            ),
        ),
    ];
    let proxy = FaultProxy::start(
        &common::image_endpoint(),
        Faults {
            throttle: 0.15,
            server_error: 0.05,
            seed: 20261202,
            scripts: scripts
                .iter()
                .map(|(a, n, f)| ((*a).to_owned(), *n, f.clone()))
                .collect(),
            ..Faults::default()
        },
    )
    .await;
    let env = common::env_name("ami-faults");
    cycle_lab_through(&proxy, &env, &common::ami_lab()).await;
    for (action, times, _) in &scripts {
        let (calls, injected) = proxy.counts.action(action);
        assert!(
            injected >= u64::from(*times),
            "{action}: {injected} injected"
        );
        assert!(calls > injected, "{action} never passed");
    }
    eprintln!(
        "golden-ami: {} faults injected in {} calls",
        proxy.counts.injected(),
        proxy.counts.calls()
    );
}

/// `up` of the golden-ami lab (its reduced form on MiniStack) killed with SIGKILL at ten points:
/// a second `up`, `check` and `down` (through the image shim on moto) converge and leave nothing.
#[tokio::test(flavor = "multi_thread")]
async fn golden_ami_up_killed_at_ten_points_converges_and_cleans_up() {
    let lab = common::ami_lab();
    let upstream = common::image_endpoint();
    let probe = FaultProxy::start(&upstream, Faults::default()).await;
    let env = common::env_name("probe-ami");
    let home = tempfile::tempdir().expect("home");
    let up =
        run(common::awslab_via(home.path(), &probe.url).args(["--env", &env, "up", &lab, "--yes"]))
            .await;
    assert!(up.status.success(), "{}", stderr(&up));
    let mutations = u32::try_from(
        probe
            .counts
            .mutations
            .load(std::sync::atomic::Ordering::SeqCst),
    )
    .unwrap_or(0);
    let down = run(
        common::awslab_via(home.path(), &upstream).args(["--env", &env, "down", &lab, "--yes"])
    )
    .await;
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(mutations >= 10, "{lab}: only {mutations} mutating calls");
    let mut rng = fastrand::Rng::with_seed(17);
    let mut points: Vec<u32> = (1..=mutations).collect();
    rng.shuffle(&mut points);
    let mut points: Vec<u32> = points.into_iter().take(10).collect();
    points.sort_unstable();
    eprintln!("{lab}: kill points among {mutations} mutating calls: {points:?}");
    let results = futures::future::join_all(points.iter().map(|p| {
        let (lab, upstream) = (lab.clone(), upstream.clone());
        async move {
            let point = *p;
            let env = common::env_name(&format!("kill{point}-ami"));
            let home = tempfile::tempdir().expect("home");
            let proxy = FaultProxy::start(
                &upstream,
                Faults {
                    hang_at_mutation: Some(point),
                    ..Faults::default()
                },
            )
            .await;
            let mut child = common::awslab_via(home.path(), &proxy.url)
                .args(["--env", &env, "up", &lab, "--yes"])
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
                    return Err(format!("point {point}: up finished ({status:?}) before its mutating call {point}"));
                }
                () = tokio::time::sleep(Duration::from_secs(120)) => {
                    return Err(format!("point {point}: never reached"));
                }
            }
            for args in [
                vec!["--env", &env, "up", &lab, "--yes"],
                vec!["--env", &env, "check", &lab],
                vec!["--env", &env, "down", &lab, "--yes"],
            ] {
                let o = run(common::awslab_via(home.path(), &upstream).args(&args)).await;
                if !o.status.success() {
                    return Err(format!(
                        "point {point}: `{}` failed: {}{}",
                        args[2],
                        String::from_utf8_lossy(&o.stdout),
                        stderr(&o)
                    ));
                }
            }
            let left = common::tagged_left(&env).await;
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("point {point}: left {left:?}"))
            }
        }
    }))
    .await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `up`, `check`, `down` of the ECS lab in `region` through `proxy`; each must succeed and
/// nothing of the env is left there.
async fn cycle_ecs_through(proxy: &FaultProxy, env: &str, region: &str) {
    let lab = &common::ecs_lab();
    let home = tempfile::tempdir().expect("home");
    for args in [
        vec!["--env", env, "--stats", "up", lab, "--yes"],
        vec!["--env", env, "--stats", "check", lab],
        vec!["--env", env, "--stats", "down", lab, "--yes"],
    ] {
        let o = run(common::awslab_via(home.path(), &proxy.url)
            .env("AWS_REGION", region)
            .args(&args))
        .await;
        assert!(
            o.status.success(),
            "`{}` failed: {}{}",
            args[3],
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
    }
    assert_eq!(
        common::tagged_left_in(region, env).await,
        Vec::<String>::new()
    );
}

/// The ECS lab through throttling and server errors on a share of its calls, and the refusals
/// AWS gives while a deleted service still drains: its cluster
/// (`ClusterContainsServicesException`) and its tasks' subnets (`DependencyViolation`).
#[tokio::test(flavor = "multi_thread")]
async fn ecs_through_throttling_server_errors_and_draining_refusals() {
    let scripts = [
        (
            "DeleteCluster",
            2,
            Fault::new(
                400,
                "ClusterContainsServicesException",
                "The Cluster cannot be deleted while Services are active.",
            ),
        ),
        (
            "DeleteSubnet",
            2,
            Fault::new(
                400,
                "DependencyViolation",
                "The subnet 'subnet-0' has dependencies and cannot be deleted.",
            ),
        ),
    ];
    let proxy = FaultProxy::start(
        &common::ecs_endpoint(),
        Faults {
            throttle: 0.15,
            server_error: 0.05,
            seed: 20261205,
            scripts: scripts
                .iter()
                .map(|(a, n, f)| ((*a).to_owned(), *n, f.clone()))
                .collect(),
            ..Faults::default()
        },
    )
    .await;
    let env = common::env_name("ecs-faults");
    cycle_ecs_through(&proxy, &env, "sa-east-1").await;
    for (action, times, _) in &scripts {
        let (calls, injected) = proxy.counts.action(action);
        assert!(
            injected >= u64::from(*times),
            "{action}: {injected} injected"
        );
        assert!(calls > injected, "{action} never passed");
    }
    eprintln!(
        "ecs-fargate-service: {} faults injected in {} calls",
        proxy.counts.injected(),
        proxy.counts.calls()
    );
}

/// `up` of the ECS lab killed with SIGKILL at ten points, each in a region of its own (the
/// lab's repository name is one per account and region): a second `up`, `check` and `down`
/// converge and leave nothing.
#[tokio::test(flavor = "multi_thread")]
async fn ecs_up_killed_at_ten_points_converges_and_cleans_up() {
    const REGIONS: [&str; 10] = [
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-north-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-southeast-1",
        "ap-south-1",
    ];
    let lab = &common::ecs_lab();
    let upstream = common::ecs_endpoint();
    let probe = FaultProxy::start(&upstream, Faults::default()).await;
    let env = common::env_name("probe-ecs");
    let home = tempfile::tempdir().expect("home");
    let up = run(common::awslab_via(home.path(), &probe.url)
        .env("AWS_REGION", "us-east-2")
        .args(["--env", &env, "up", lab, "--yes"]))
    .await;
    assert!(up.status.success(), "{}", stderr(&up));
    let mutations = u32::try_from(
        probe
            .counts
            .mutations
            .load(std::sync::atomic::Ordering::SeqCst),
    )
    .unwrap_or(0);
    let down = run(common::awslab_via(home.path(), &upstream)
        .env("AWS_REGION", "us-east-2")
        .args(["--env", &env, "down", lab, "--yes"]))
    .await;
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(mutations >= 10, "{lab}: only {mutations} mutating calls");
    let lab = lab.clone();
    let mut rng = fastrand::Rng::with_seed(19);
    let mut points: Vec<u32> = (1..=mutations).collect();
    rng.shuffle(&mut points);
    let mut points: Vec<u32> = points.into_iter().take(10).collect();
    points.sort_unstable();
    eprintln!("{lab}: kill points among {mutations} mutating calls: {points:?}");
    let results = futures::future::join_all(points.iter().zip(REGIONS).map(|(p, region)| {
        let upstream = upstream.clone();
        let lab = lab.clone();
        async move {
            let lab = lab.as_str();
            let point = *p;
            let env = common::env_name(&format!("kill{point}-ecs"));
            let home = tempfile::tempdir().expect("home");
            let proxy = FaultProxy::start(
                &upstream,
                Faults {
                    hang_at_mutation: Some(point),
                    ..Faults::default()
                },
            )
            .await;
            let mut child = common::awslab_via(home.path(), &proxy.url)
                .env("AWS_REGION", region)
                .args(["--env", &env, "up", lab, "--yes"])
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
                    return Err(format!("point {point}: up finished ({status:?}) before its mutating call {point}"));
                }
                () = tokio::time::sleep(Duration::from_secs(120)) => {
                    return Err(format!("point {point}: never reached"));
                }
            }
            for args in [
                vec!["--env", &env, "up", lab, "--yes"],
                vec!["--env", &env, "check", lab],
                vec!["--env", &env, "down", lab, "--yes"],
            ] {
                let o = run(common::awslab_via(home.path(), &upstream)
                    .env("AWS_REGION", region)
                    .args(&args))
                .await;
                if !o.status.success() {
                    return Err(format!(
                        "point {point} ({region}): `{}` failed: {}{}",
                        args[2],
                        String::from_utf8_lossy(&o.stdout),
                        stderr(&o)
                    ));
                }
            }
            let left = common::tagged_left_in(region, &env).await;
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("point {point} ({region}): left {left:?}"))
            }
        }
    }))
    .await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
