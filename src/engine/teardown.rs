//! Tearing down several environments at once (`sweep`, `down --roster`): each env's `down` runs
//! as it would on its own, at most `jobs` at a time, so a class's teardown takes about as long
//! as its slowest env rather than the sum. Envs reached the same way in one account and region
//! are discovered together (one listing per kind for all of them), and they share the process's
//! request budget per account and region, so more jobs do not mean more throttling; one env
//! that fails does not stop the others.

use std::collections::BTreeMap;

use futures::StreamExt;

use super::destroy::{DestroyOutcome, destroy, destroy_found};
use super::{EngineOptions, Event, Prefixed, Reporter, discover};
use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError};
use crate::resources::World;

/// How many environments `sweep` tears down at once unless told otherwise.
pub const DEFAULT_JOBS: usize = 8;

/// Envs listed together at most: EC2 takes up to 200 values per filter, and one env name is
/// one value.
const OWNERS_PER_LISTING: usize = 100;

/// One environment to tear down: where (its region's client) and whose.
pub struct Env<'a> {
    pub aws: &'a Aws,
    pub owner: Owner,
}

/// The envs of one shared listing (their indexes) and what it found for each.
type Listed = (Vec<usize>, Result<Vec<World>, AwsError>);

/// Envs whose discovery can be shared: the same credentials, account, region and endpoint.
fn place(aws: &Aws) -> String {
    format!(
        "{:?}|{:?}|{}|{:?}",
        aws.settings,
        aws.account.get(),
        aws.region,
        aws.endpoint
    )
}

/// `down` of every env, at most `jobs` at once; the outcomes in the order of `envs`. Progress
/// events carry the env's label (`lab/env` of the owner).
pub async fn teardown(
    envs: &[Env<'_>],
    jobs: usize,
    opts: &EngineOptions,
    reporter: &dyn Reporter,
) -> Vec<Result<DestroyOutcome, AwsError>> {
    let mut places: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, env) in envs.iter().enumerate() {
        places.entry(place(env.aws)).or_default().push(i);
    }
    let batches: Vec<Vec<usize>> = places
        .into_values()
        .flat_map(|ix| {
            ix.chunks(OWNERS_PER_LISTING)
                .map(<[usize]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    let listed: Vec<Listed> = futures::stream::iter(batches)
        .map(|ix| async move {
            let aws = envs[ix[0]].aws;
            let owners: Vec<Owner> = ix.iter().map(|i| envs[*i].owner.clone()).collect();
            if owners.len() > 1 {
                reporter.event(Event::Note(format!(
                    "discovering what {} envs own in {}",
                    owners.len(),
                    aws.region
                )));
            }
            (
                ix,
                discover::owned_many(&*opts.handlers, aws, &owners).await,
            )
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    let mut worlds: Vec<Option<World>> = vec![None; envs.len()];
    for (ix, found) in listed {
        match found {
            Ok(found) => {
                for (i, world) in ix.into_iter().zip(found) {
                    worlds[i] = Some(world);
                }
            }
            // Each env then lists its own, and says for itself what failed.
            Err(e) => reporter.event(Event::Note(format!(
                "listing {} envs at once failed ({e}); each env lists its own",
                ix.len()
            ))),
        }
    }
    // Unordered: a slow env does not hold a slot once the others are done.
    let mut done: Vec<(usize, Result<DestroyOutcome, AwsError>)> =
        futures::stream::iter(envs.iter().zip(worlds).enumerate().map(
            |(i, (env, world))| async move {
                let prefixed = Prefixed {
                    inner: reporter,
                    label: format!("{}/{}", env.owner.lab, env.owner.env),
                };
                let outcome = match world {
                    Some(world) => destroy_found(env.aws, &env.owner, world, opts, &prefixed).await,
                    None => destroy(env.aws, &env.owner, opts, &prefixed).await,
                };
                (i, outcome)
            },
        ))
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}
