//! `down`: find everything by tags (and what lies inside a lab-owned VPC), revoke
//! cross-references, then delete each resource once what blocks it is gone. Independent branches
//! go on when one fails; the outcome lists what is left and why.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::discover;
use super::schedule::{self, NodeResult};
use super::{EngineOptions, Event, Reporter, Verb};
use crate::aws::tags::{self, Owner};
use crate::aws::{Aws, AwsError};
use crate::lab::Kind;
use crate::resources::{self, DestroyCx, Facts, Observed, World};

#[derive(Debug, Default)]
pub struct DestroyOutcome {
    /// (label, kind, id) of what was deleted.
    pub deleted: Vec<(String, Kind, String)>,
    /// What is left, with the reason.
    pub left: Vec<(String, Kind, String, String)>,
    /// What the deleted resources cost per hour, and what is left still costs.
    pub stopped: crate::cost::Estimate,
    pub still: crate::cost::Estimate,
}

/// A label for messages: the logical name, else the Name tag, else the id (events carry the id).
fn label(o: &Observed) -> String {
    match o
        .tags
        .get(tags::RESOURCE)
        .or_else(|| o.tags.get(tags::NAME))
    {
        Some(n) => n.clone(),
        None => o.id.clone(),
    }
}

/// What `down` may delete: resources carrying the owner's tags, and what lies inside a VPC that
/// carries them (VPC defaults aside). Never the default VPC, never another lab's or env's.
pub fn deletion_set(world: &World, owner: &Owner) -> Vec<Observed> {
    let owned_vpcs: BTreeSet<&str> = world
        .of_kind(Kind::Vpc)
        .filter(|v| owner.owns(&v.tags) && !v.is_vpc_default())
        .map(|v| v.id.as_str())
        .collect();
    world
        .items
        .iter()
        .filter(|o| {
            let gone = match &o.facts {
                Facts::Instance { state, .. } => state == "terminated",
                Facts::NatGateway { state, .. } => state == "deleted",
                Facts::Vpc { is_default, .. } => *is_default,
                _ => false,
            };
            if gone || o.is_vpc_default() {
                return false;
            }
            let other_owner = o.tags.contains_key(tags::LAB) && !owner.owns(&o.tags);
            if other_owner {
                return false;
            }
            owner.owns(&o.tags) || o.vpc_id().is_some_and(|v| owned_vpcs.contains(v))
        })
        .cloned()
        .collect()
}

pub async fn destroy(
    aws: &Aws,
    owner: &Owner,
    opts: &EngineOptions,
    reporter: &dyn Reporter,
) -> Result<DestroyOutcome, AwsError> {
    reporter.event(Event::Note("discovering what the lab owns".to_owned()));
    let world = discover::owned(aws, owner, true).await?;
    let doomed = deletion_set(&world, owner);
    destroy_set(aws, &world, doomed, opts, reporter).await
}

/// Deletes `doomed` (a subset of `world`) in dependency order.
pub async fn destroy_set(
    aws: &Aws,
    world: &World,
    doomed: Vec<Observed>,
    opts: &EngineOptions,
    reporter: &dyn Reporter,
) -> Result<DestroyOutcome, AwsError> {
    let ids: BTreeSet<&str> = doomed.iter().map(|o| o.id.as_str()).collect();
    let deps: BTreeMap<String, BTreeSet<String>> = doomed
        .iter()
        .map(|o| {
            let b = resources::kind(o.kind)
                .blockers(o, world)
                .into_iter()
                .filter(|b| ids.contains(b.as_str()))
                .collect();
            (o.id.clone(), b)
        })
        .collect();
    let mut outcome = DestroyOutcome::default();
    let quiet = |_: String| {};
    let prep_cx = DestroyCx {
        aws,
        world,
        progress: &quiet,
        wait_timeout: opts.wait_timeout,
    };
    let mut prep_failed: BTreeMap<String, AwsError> = BTreeMap::new();
    for o in &doomed {
        if let Err(e) = resources::kind(o.kind).prepare_delete(&prep_cx, o).await {
            prep_failed.insert(o.id.clone(), e);
        }
    }
    let results = schedule::run(deps, opts.concurrency, |id| {
        let obs = doomed.iter().find(|o| o.id == id).cloned();
        let prep = prep_failed.remove(&id);
        async move {
            let Some(obs) = obs else {
                return Err(AwsError::other("delete", &id, "Unknown", "not discovered"));
            };
            if let Some(e) = prep {
                return Err(e);
            }
            let name = label(&obs);
            let handler = resources::kind(obs.kind);
            reporter.event(Event::Started {
                name: name.clone(),
                kind: obs.kind,
                verb: Verb::Delete,
                // `typical` is how long creation takes; deletes have their own waits.
                typical: None,
            });
            let progress = |message: String| {
                reporter.event(Event::Progress {
                    name: name.clone(),
                    message,
                })
            };
            let cx = DestroyCx {
                aws,
                world,
                progress: &progress,
                wait_timeout: opts.wait_timeout.min(handler.delete_deadline()),
            };
            let start = Instant::now();
            match handler.delete(&cx, &obs).await {
                Ok(()) => {
                    reporter.event(Event::Finished {
                        name: name.clone(),
                        kind: obs.kind,
                        id: obs.id.clone(),
                        verb: Verb::Delete,
                        elapsed: start.elapsed(),
                    });
                    Ok((name, obs.kind))
                }
                Err(e) => {
                    reporter.event(Event::Failed {
                        name: name.clone(),
                        kind: obs.kind,
                        error: e.to_string(),
                    });
                    Err(e)
                }
            }
        }
    })
    .await;
    for (id, r) in results {
        let obs = doomed.iter().find(|o| o.id == id);
        let kind = obs.map_or(Kind::Vpc, |o| o.kind);
        let name = obs.map_or_else(|| id.clone(), label);
        match r {
            NodeResult::Done((name, kind)) => outcome.deleted.push((name, kind, id)),
            NodeResult::Failed(e) => outcome.left.push((name, kind, id, e.to_string())),
            NodeResult::Skipped(cause) => {
                let cause_label = doomed
                    .iter()
                    .find(|o| o.id == cause)
                    .map_or(cause.clone(), label);
                let reason = format!("not attempted: {cause_label} could not be deleted");
                reporter.event(Event::Skipped {
                    name: name.clone(),
                    reason: reason.clone(),
                });
                outcome.left.push((name, kind, id, reason));
            }
        }
    }
    let deleted: BTreeSet<&str> = outcome
        .deleted
        .iter()
        .map(|(_, _, id)| id.as_str())
        .collect();
    outcome.stopped =
        crate::cost::of_observed(doomed.iter().filter(|o| deleted.contains(o.id.as_str())));
    outcome.still =
        crate::cost::of_observed(doomed.iter().filter(|o| !deleted.contains(o.id.as_str())));
    Ok(outcome)
}
