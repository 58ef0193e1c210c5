//! `up`: what it creates, in what order, and what it does when a create fails.

use super::{ALL, Recorder, at, lab, sorted, up, up_reporting};
use crate::engine::Verb;
use crate::engine::fake::{Call, Failure, FakeCloud, Times};

#[tokio::test(start_paused = true)]
async fn up_creates_each_resource_after_what_it_references_and_the_rest_side_by_side() {
    let cloud = FakeCloud::new();
    let out = up(&cloud.options()).await;
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    assert_eq!(out.count(Verb::Create), ALL.len());
    assert_eq!(sorted(out.done.iter().map(|(n, _, _)| n)), ALL);
    let log = cloud.log();
    assert_eq!(log.len(), ALL.len(), "one create each: {log:?}");
    let mut edges = 0;
    for res in &lab().resources {
        for dep in res.spec.refs() {
            assert!(
                at(&log, "create", dep) < at(&log, "create", &res.name),
                "{dep} must exist before {}: {log:?}",
                res.name
            );
            edges += 1;
        }
    }
    assert_eq!(edges, 10, "every reference of the lab was checked");
    // Once the VPC exists, both subnets, the gateway and the group are created at once.
    assert!(cloud.peak_in_flight() >= 4, "{}", cloud.peak_in_flight());
}

#[tokio::test(start_paused = true)]
async fn up_has_at_most_concurrency_calls_in_flight() {
    let cloud = FakeCloud::new();
    let mut opts = cloud.options();
    opts.concurrency = 2;
    let out = up(&opts).await;
    assert_eq!(out.count(Verb::Create), ALL.len());
    assert_eq!(cloud.peak_in_flight(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_second_up_changes_nothing() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    up(&opts).await;
    let before = cloud.log();
    let out = up(&opts).await;
    assert_eq!(out.count(Verb::Keep), ALL.len(), "{:?}", out.done);
    assert!(out.failed.is_empty() && out.skipped.is_empty());
    assert_eq!(cloud.log(), before, "no call took effect");
    for name in ALL {
        assert_eq!(cloud.attempts(Call::Create, name), 1, "{name}");
        assert_eq!(cloud.attempts(Call::Update, name), 0, "{name}");
    }
    // What the second run bound is what the first made.
    for name in ALL {
        assert_eq!(out.bound.id(name), cloud.id_of(name).as_deref(), "{name}");
    }
}

#[tokio::test(start_paused = true)]
async fn up_puts_back_only_what_was_changed_by_hand() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    up(&opts).await;
    cloud.drift("web-sg");
    let out = up(&opts).await;
    let updated: Vec<&str> = out
        .done
        .iter()
        .filter(|(_, v, _)| *v == Verb::Update)
        .map(|(n, _, _)| n.as_str())
        .collect();
    assert_eq!(updated, ["web-sg"]);
    assert_eq!(out.count(Verb::Keep), ALL.len() - 1);
    let log = cloud.log();
    assert_eq!(log.len(), ALL.len() + 1, "{log:?}");
    assert_eq!(log.last(), Some(&("update", "web-sg".to_owned())));
}

#[tokio::test(start_paused = true)]
async fn a_failed_create_skips_what_depends_on_it_and_nothing_else() {
    let cloud = FakeCloud::new();
    cloud.fail(Call::Create, "public-a", Failure::Fatal, Times::Always);
    let events = Recorder::default();
    let out = up_reporting(&cloud.options(), &events).await;
    let failed: Vec<(&str, Option<&str>)> = out
        .failed
        .iter()
        .map(|(n, e)| (n.as_str(), e.aws_code()))
        .collect();
    assert_eq!(failed, [("public-a", Some("UnauthorizedOperation"))]);
    let mut skipped = out.skipped.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("public-rt".to_owned(), "public-a".to_owned()),
            ("web".to_owned(), "public-a".to_owned()),
        ]
    );
    assert_eq!(
        events.skipped(),
        [
            ("public-rt".to_owned(), "public-a failed".to_owned()),
            ("web".to_owned(), "public-a failed".to_owned()),
        ]
    );
    assert_eq!(
        sorted(out.done.iter().map(|(n, _, _)| n)),
        ["lab-igw", "lab-vpc", "public-b", "web-sg"]
    );
    assert_eq!(out.count(Verb::Create), 4);
    // Not attempted at all.
    assert_eq!(cloud.attempts(Call::Create, "public-rt"), 0);
    assert_eq!(cloud.attempts(Call::Create, "web"), 0);
    assert_eq!(cloud.id_of("public-a"), None);
}

#[tokio::test(start_paused = true)]
async fn up_after_a_failure_creates_only_what_is_missing() {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    cloud.fail(Call::Create, "public-a", Failure::Fatal, Times::Once);
    let first = up(&opts).await;
    assert_eq!(first.failed.len(), 1);
    assert_eq!(first.skipped.len(), 2);
    let second = up(&opts).await;
    assert!(second.failed.is_empty() && second.skipped.is_empty());
    let created: Vec<&str> = sorted(
        second
            .done
            .iter()
            .filter(|(_, v, _)| *v == Verb::Create)
            .map(|(n, _, _)| n),
    );
    assert_eq!(created, ["public-a", "public-rt", "web"]);
    assert_eq!(second.count(Verb::Keep), 4);
    assert_eq!(cloud.attempts(Call::Create, "public-a"), 2);
    assert_eq!(cloud.attempts(Call::Create, "lab-vpc"), 1);
    let log = cloud.log();
    assert_eq!(log.len(), ALL.len(), "{log:?}");
    assert!(at(&log, "create", "public-a") < at(&log, "create", "web"));
}
