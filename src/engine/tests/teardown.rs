//! Several environments torn down at once: as fast as the slowest env, each env's `down` as it
//! would run on its own, their events told apart.

use std::time::Duration;

use super::{ALL, Recorder, lab};
use crate::aws::tags::Owner;
use crate::engine::apply::apply;
use crate::engine::fake::{FakeCloud, unreachable_aws};
use crate::engine::teardown::{Env, teardown};
use crate::engine::{EngineOptions, Event};
use crate::lab::StageSel;

const CLASS: [&str; 3] = ["alice", "bob", "carol"];

/// A cloud holding the fake lab once per student.
async fn class(students: &[&str]) -> (std::sync::Arc<FakeCloud>, EngineOptions) {
    let cloud = FakeCloud::new();
    let opts = cloud.options();
    for s in students {
        apply(
            &unreachable_aws(),
            &lab(),
            StageSel::Full,
            &Owner::new("fake", s),
            &opts,
            &Recorder::default(),
        )
        .await
        .expect("up runs");
    }
    (cloud, opts)
}

/// The (virtual) time a teardown of `students` takes `jobs` at a time, and its events.
async fn timed(students: &[&str], jobs: usize) -> (Duration, Recorder, Vec<usize>) {
    let (cloud, opts) = class(students).await;
    let aws = unreachable_aws();
    let envs: Vec<Env<'_>> = students
        .iter()
        .map(|s| Env {
            aws: &aws,
            owner: Owner::new("fake", s),
        })
        .collect();
    let events = Recorder::default();
    let started = tokio::time::Instant::now();
    let outcomes = teardown(&envs, jobs, &opts, &events).await;
    let took = started.elapsed();
    assert!(cloud.live().is_empty(), "left: {:?}", cloud.live());
    let deleted = outcomes
        .into_iter()
        .map(|o| o.expect("down runs").deleted.len())
        .collect();
    (took, events, deleted)
}

#[tokio::test(start_paused = true)]
async fn a_class_goes_about_as_fast_as_one_env_and_one_at_a_time_takes_the_sum() {
    let (one, _, deleted) = timed(&CLASS[..1], 1).await;
    assert_eq!(deleted, [ALL.len()]);
    let (together, _, deleted) = timed(&CLASS, CLASS.len()).await;
    assert_eq!(
        deleted,
        [ALL.len(); 3],
        "every env torn down, in the class's order"
    );
    let (in_turn, _, _) = timed(&CLASS, 1).await;
    assert!(
        together.as_secs_f64() <= 1.5 * one.as_secs_f64(),
        "3 envs at once took {together:?}, one env {one:?}"
    );
    assert!(
        in_turn.as_secs_f64() >= 2.5 * one.as_secs_f64(),
        "3 envs one at a time took {in_turn:?}, one env {one:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn each_envs_events_carry_its_label() {
    let (_, events, _) = timed(&CLASS[..2], 2).await;
    let finished: Vec<String> = events
        .0
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|e| match e {
            Event::Finished { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    for student in &CLASS[..2] {
        for name in ALL {
            let label = format!("fake/{student}/{name}");
            assert!(finished.contains(&label), "{label} not in {finished:?}");
        }
    }
    assert_eq!(finished.len(), 2 * ALL.len(), "{finished:?}");
}

#[tokio::test(start_paused = true)]
async fn a_class_is_listed_once_and_only_its_envs_go() {
    let (cloud, opts) = class(&CLASS).await;
    // Another lab's env of the same name, and an env of this lab outside the class.
    for owner in [Owner::new("other", "alice"), Owner::new("fake", "dave")] {
        apply(
            &unreachable_aws(),
            &lab(),
            StageSel::Full,
            &owner,
            &opts,
            &Recorder::default(),
        )
        .await
        .expect("up runs");
    }
    let kept: Vec<String> = cloud.live();
    let aws = unreachable_aws();
    let one = |s: &str| Env {
        aws: &aws,
        owner: Owner::new("fake", s),
    };
    let before = cloud.listings();
    let outcomes = teardown(&[one("alice")], 1, &opts, &Recorder::default()).await;
    assert_eq!(
        outcomes[0].as_ref().expect("down runs").deleted.len(),
        ALL.len()
    );
    let per_env = cloud.listings() - before;

    let before = cloud.listings();
    let envs = [one("bob"), one("carol")];
    let outcomes = teardown(&envs, 2, &opts, &Recorder::default()).await;
    for o in outcomes {
        assert_eq!(o.expect("down runs").deleted.len(), ALL.len());
    }
    assert_eq!(
        cloud.listings() - before,
        per_env,
        "two envs in one place are listed as one"
    );
    let left = cloud.live();
    // Five envs were up, each the same resources: two stay.
    assert_eq!(
        left.len(),
        kept.len() / 5 * 2,
        "only the class's envs go: {left:?} (before: {kept:?})"
    );
    for name in ALL {
        assert!(cloud.id_of(name).is_some());
    }
}
