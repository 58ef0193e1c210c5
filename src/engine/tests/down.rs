//! `down`: what it deletes, in what order, what it asks again, and what it leaves and why.

use std::time::Duration;

use super::{ALL, at, down, lab, owner, sorted, up};
use crate::engine::apply::apply;
use crate::engine::destroy::DestroyOutcome;
use crate::engine::fake::{Call, Failure, FakeCloud, Times, unreachable_aws};
use crate::lab::StageSel;

/// The deletes of the log, by logical name, in order.
fn deleted_in_order(cloud: &FakeCloud) -> Vec<(&'static str, String)> {
    cloud
        .log()
        .into_iter()
        .filter(|(op, _)| *op == "delete")
        .map(|(op, id)| (op, cloud.name_of(&id).unwrap_or(id)))
        .collect()
}

fn deleted(out: &DestroyOutcome) -> Vec<&str> {
    sorted(out.deleted.iter().map(|(n, _, _)| n))
}

/// (name, reason) of what is left, sorted.
fn left(out: &DestroyOutcome) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = out
        .left
        .iter()
        .map(|(n, _, _, why)| (n.as_str(), why.as_str()))
        .collect();
    v.sort_unstable();
    v
}

#[tokio::test(start_paused = true)]
async fn down_deletes_what_uses_a_resource_before_the_resource() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    up(&opts).await;
    let out = down(&opts).await;
    assert!(out.left.is_empty(), "{:?}", out.left);
    assert_eq!(deleted(&out), ALL);
    let log = deleted_in_order(&cloud);
    assert_eq!(
        log.len(),
        ALL.len(),
        "the VPC's defaults go with it: {log:?}"
    );
    // The instance holds its subnet, its group and the gateway (its public address); the VPC
    // goes last.
    for (first, then) in [
        ("web", "public-a"),
        ("web", "web-sg"),
        ("web", "lab-igw"),
        ("public-a", "lab-vpc"),
        ("public-b", "lab-vpc"),
        ("lab-igw", "lab-vpc"),
        ("public-rt", "lab-vpc"),
        ("web-sg", "lab-vpc"),
        ("web", "lab-vpc"),
    ] {
        assert!(
            at(&log, "delete", first) < at(&log, "delete", then),
            "{first} before {then}: {log:?}"
        );
    }
    // In that order, nothing was ever refused as still in use.
    for name in ALL {
        assert_eq!(cloud.attempts(Call::Delete, name), 1, "{name}");
    }
    assert_eq!(cloud.live(), Vec::<String>::new());
    // Nothing is left to find: a second `down` deletes nothing.
    let again = down(&opts).await;
    assert!(again.deleted.is_empty() && again.left.is_empty());
}

#[tokio::test(start_paused = true)]
async fn down_retries_a_dependency_violation_until_it_clears() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    up(&opts).await;
    cloud.fail(
        Call::Delete,
        "lab-vpc",
        Failure::Dependency,
        Times::First(3),
    );
    let out = down(&opts).await;
    assert!(out.left.is_empty(), "{:?}", out.left);
    assert_eq!(deleted(&out), ALL);
    assert_eq!(cloud.attempts(Call::Delete, "lab-vpc"), 4);
    assert_eq!(cloud.live(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn what_stays_in_use_is_left_with_the_reason_and_everything_else_goes() {
    let cloud = FakeCloud::new();
    let mut opts = cloud.options();
    up(&opts).await;
    opts.wait_timeout = Duration::from_secs(60);
    cloud.fail(Call::Delete, "web-sg", Failure::Dependency, Times::Always);
    let out = down(&opts).await;
    assert_eq!(
        deleted(&out),
        ["lab-igw", "public-a", "public-b", "public-rt", "web"]
    );
    let left = left(&out);
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(
        left[0],
        ("lab-vpc", "not attempted: web-sg could not be deleted")
    );
    assert_eq!(left[1].0, "web-sg");
    assert!(left[1].1.contains("DependencyViolation"), "{}", left[1].1);
    assert!(cloud.attempts(Call::Delete, "web-sg") > 1, "retried");
    assert_eq!(cloud.attempts(Call::Delete, "lab-vpc"), 0);
    let live = cloud.live();
    assert!(
        live.contains(&"lab-vpc".to_owned()) && live.contains(&"web-sg".to_owned()),
        "{live:?}"
    );
    // The two, and the VPC's main route table and default group.
    assert_eq!(live.len(), 4, "{live:?}");
}

#[tokio::test(start_paused = true)]
async fn a_refused_delete_is_not_retried() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    up(&opts).await;
    cloud.fail(Call::Delete, "public-b", Failure::Fatal, Times::Always);
    let out = down(&opts).await;
    assert_eq!(cloud.attempts(Call::Delete, "public-b"), 1);
    let left = left(&out);
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(
        left[0],
        ("lab-vpc", "not attempted: public-b could not be deleted")
    );
    assert_eq!(left[1].0, "public-b");
    assert!(left[1].1.contains("UnauthorizedOperation"), "{}", left[1].1);
    assert_eq!(
        deleted(&out),
        ["lab-igw", "public-a", "public-rt", "web", "web-sg"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_not_found_answer_about_what_is_still_listed_is_asked_again() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    up(&opts).await;
    cloud.fail(Call::Delete, "web", Failure::NotFound, Times::First(2));
    let out = down(&opts).await;
    assert!(out.left.is_empty(), "{:?}", out.left);
    assert_eq!(deleted(&out), ALL);
    assert_eq!(cloud.attempts(Call::Delete, "web"), 3);
    assert_eq!(cloud.live(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_not_found_answer_that_never_clears_leaves_the_resource_and_what_it_holds() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    up(&opts).await;
    cloud.fail(Call::Delete, "web", Failure::NotFound, Times::Always);
    let out = down(&opts).await;
    assert_eq!(deleted(&out), ["public-b", "public-rt"]);
    let left = left(&out);
    let names: Vec<&str> = left.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["lab-igw", "lab-vpc", "public-a", "web", "web-sg"]);
    let web = left[3].1;
    assert!(web.contains("yet AWS still lists it after"), "{web}");
    for (name, why) in &left[..3] {
        assert!(why.starts_with("not attempted: "), "{name}: {why}");
    }
    assert!(cloud.attempts(Call::Delete, "web") > 2);
}

#[tokio::test(start_paused = true)]
async fn down_after_a_crash_in_the_middle_of_up_removes_everything_it_made() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    // The instance's create never answers: the run is abandoned as a killed process would be.
    cloud.fail(Call::Create, "web", Failure::Hang, Times::Always);
    let (aws, lab, owner) = (unreachable_aws(), lab(), owner());
    let run = apply(
        &aws,
        &lab,
        StageSel::Full,
        &owner,
        &opts,
        &crate::engine::events::Silent,
    );
    let crashed = tokio::time::timeout(Duration::from_secs(600), run).await;
    assert!(crashed.is_err(), "the run was cut short");
    let made: Vec<&str> = ALL.iter().copied().filter(|n| *n != "web").collect();
    for name in &made {
        assert!(
            cloud.id_of(name).is_some(),
            "{name} was made before the crash"
        );
    }
    assert_eq!(cloud.id_of("web"), None);
    let out = down(&opts).await;
    assert!(out.left.is_empty(), "{:?}", out.left);
    assert_eq!(deleted(&out), made);
    assert_eq!(cloud.live(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn down_after_a_crash_in_the_middle_of_down_finishes_the_job() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    up(&opts).await;
    cloud.fail(Call::Delete, "lab-vpc", Failure::Hang, Times::Once);
    let crashed = tokio::time::timeout(Duration::from_secs(600), down(&opts)).await;
    assert!(crashed.is_err(), "the run was cut short");
    assert_eq!(cloud.id_of("web"), None);
    assert!(cloud.id_of("lab-vpc").is_some());
    let out = down(&opts).await;
    assert!(out.left.is_empty(), "{:?}", out.left);
    assert_eq!(deleted(&out), ["lab-vpc"]);
    assert_eq!(cloud.live(), Vec::<String>::new());
}
