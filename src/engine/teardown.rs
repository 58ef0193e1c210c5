//! Tearing down several environments at once (`sweep`): each env's `down` runs as it would on
//! its own, at most `jobs` at a time, so a class's teardown takes about as long as its slowest
//! env rather than the sum. They share the process's request budget per account and region, so
//! more jobs do not mean more throttling; one env that fails does not stop the others.

use futures::StreamExt;

use super::destroy::{DestroyOutcome, destroy};
use super::{EngineOptions, Prefixed, Reporter};
use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError};

/// How many environments `sweep` tears down at once unless told otherwise.
pub const DEFAULT_JOBS: usize = 8;

/// One environment to tear down: where (its region's client) and whose.
pub struct Env<'a> {
    pub aws: &'a Aws,
    pub owner: Owner,
}

/// `down` of every env, at most `jobs` at once; the outcomes in the order of `envs`. Progress
/// events carry the env's label (`lab/env` of the owner).
pub async fn teardown(
    envs: &[Env<'_>],
    jobs: usize,
    opts: &EngineOptions,
    reporter: &dyn Reporter,
) -> Vec<Result<DestroyOutcome, AwsError>> {
    // Unordered: a slow env does not hold a slot once the others are done.
    let mut done: Vec<(usize, Result<DestroyOutcome, AwsError>)> =
        futures::stream::iter(envs.iter().enumerate().map(|(i, env)| async move {
            let prefixed = Prefixed {
                inner: reporter,
                label: format!("{}/{}", env.owner.lab, env.owner.env),
            };
            (i, destroy(env.aws, &env.owner, opts, &prefixed).await)
        }))
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}
