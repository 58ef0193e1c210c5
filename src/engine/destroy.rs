//! `down`: find everything by tags (and what lies inside a lab-owned VPC), revoke
//! cross-references, then delete each resource once what blocks it is gone. Independent branches
//! go on when one fails; the outcome lists what is left and why.

use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use tokio::time::Instant;

use super::discover;
use super::schedule::{self, NodeResult};
use super::{EngineOptions, Event, Handlers, Reporter, Verb};
use crate::aws::tags::{self, Owner};
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::Kind;
use crate::resources::{DestroyCx, Observed, Step, Waiter, World};

#[derive(Debug, Default)]
pub struct DestroyOutcome {
    /// (label, kind, id) of what was deleted.
    pub deleted: Vec<(String, Kind, String)>,
    /// What is left, with the reason.
    pub left: Vec<(String, Kind, String, String)>,
    /// What the deleted resources cost per hour, and what is left still costs.
    pub stopped: crate::cost::Estimate,
    pub still: crate::cost::Estimate,
    /// Kinds that could not be listed: whatever they hold was not looked at, so not deleted.
    pub not_looked_at: Vec<crate::resources::Unlisted>,
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

/// What `down` may delete: resources carrying the owner's tags, what lies inside a VPC that
/// carries them (VPC defaults aside), and what a kind claims for the owner without its tags (a
/// bucket by awslab's name). Never the default VPC, never another lab's or env's.
pub fn deletion_set(handlers: &dyn Handlers, world: &World, owner: &Owner) -> Vec<Observed> {
    let owned_vpcs: BTreeSet<&str> = world
        .of_kind(Kind::Vpc)
        .filter(|v| owner.owns(&v.tags) && !v.is_vpc_default())
        .map(|v| v.id.as_str())
        .collect();
    world
        .items
        .iter()
        .filter(|o| {
            if o.is_gone() || o.is_vpc_default() {
                return false;
            }
            let other_owner = o.tags.contains_key(tags::LAB) && !owner.owns(&o.tags);
            if other_owner {
                return false;
            }
            owner.owns(&o.tags)
                || o.vpc_id().is_some_and(|v| owned_vpcs.contains(v))
                || handlers.handler(o.kind).claims(o, owner)
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
    let world = discover::owned(&*opts.handlers, aws, owner).await?;
    destroy_found(aws, owner, world, opts, reporter).await
}

/// [`destroy`] of what discovery found (`world`, the owner's as [`discover::owned`] lists it).
pub async fn destroy_found(
    aws: &Aws,
    owner: &Owner,
    world: World,
    opts: &EngineOptions,
    reporter: &dyn Reporter,
) -> Result<DestroyOutcome, AwsError> {
    let handlers = &*opts.handlers;
    for u in &world.unlisted {
        reporter.event(Event::Note(format!(
            "not looked at: {}: {}",
            u.kind, u.error
        )));
    }
    let doomed = deletion_set(handlers, &world, owner);
    let doomed = super::global_iam::spare_shared(aws, owner, doomed, reporter).await?;
    // What lives in a VPC but could not be listed may hold the VPC, its subnets and its
    // security groups: those are tried once, not for their whole delete deadline, and what
    // stays says why.
    let blind: Vec<&str> = world
        .unlisted
        .iter()
        .filter(|u| {
            Kind::ALL
                .iter()
                .any(|k| k.listed_with() == u.kind && handlers.handler(*k).lives_in_vpc())
        })
        .map(|u| u.kind.as_str())
        .collect();
    let once = (!blind.is_empty()).then(|| {
        format!(
            "tried once: what it holds could not be listed ({})",
            blind.join(", ")
        )
    });
    let mut outcome =
        destroy_set_with(aws, owner, &world, doomed, opts, once.as_deref(), reporter).await?;
    outcome.not_looked_at = world.unlisted.clone();
    Ok(outcome)
}

/// Deletes `obs`, counting it deleted only when AWS agrees. A not-found answer can mean "not
/// visible yet" to that call (AWS is eventually consistent, and says a not-found answer to a
/// terminate "does not mean the instance is or will be terminated"): it is checked against a
/// fresh listing, and the delete is asked again while AWS still lists the resource, up to the
/// visibility bound.
async fn delete_confirmed(
    handlers: &dyn Handlers,
    aws: &Aws,
    owner: &Owner,
    world: &World,
    cx: &DestroyCx<'_>,
    obs: &Observed,
) -> Result<(), AwsError> {
    let handler = handlers.handler(obs.kind);
    let started = Instant::now();
    let mut backoff = aws.timing.backoff();
    let mut current = obs.clone();
    loop {
        let not_found = match handler.delete(cx, &current).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_gone() => e,
            Err(e) => return Err(e),
        };
        match discover::relist(handlers, aws, owner, world, &current).await? {
            Some(o) if !o.is_gone() => {
                let waited = started.elapsed();
                if waited >= aws.timing.visibility {
                    return Err(not_found.still_listed_after(waited));
                }
                cx.wait.note(format!(
                    "{}: {}, but AWS still lists it: asking again",
                    not_found.op,
                    not_found.cause.code()
                ));
                aws.stats.not_visible_yet();
                tokio::time::sleep(backoff.delay()).await;
                current = o;
            }
            _ => return Ok(()),
        }
    }
}

/// Deletes `doomed` (a subset of `world`, which `owner`'s discovery found) in dependency order.
pub async fn destroy_set(
    aws: &Aws,
    owner: &Owner,
    world: &World,
    doomed: Vec<Observed>,
    opts: &EngineOptions,
    reporter: &dyn Reporter,
) -> Result<DestroyOutcome, AwsError> {
    destroy_set_with(aws, owner, world, doomed, opts, None, reporter).await
}

/// [`destroy_set`]. With `once` (why), containers that something unseen may hold (VPCs, subnets, security
/// groups: [`crate::resources::ResourceKind::holds_what_is_inside`]) get one attempt, no
/// dependency retries, and a refusal is reported with that reason.
async fn destroy_set_with(
    aws: &Aws,
    owner: &Owner,
    world: &World,
    doomed: Vec<Observed>,
    opts: &EngineOptions,
    once: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<DestroyOutcome, AwsError> {
    let handlers = &*opts.handlers;
    let ids: BTreeSet<&str> = doomed.iter().map(|o| o.id.as_str()).collect();
    let deps: BTreeMap<String, BTreeSet<String>> = doomed
        .iter()
        .map(|o| {
            let b = handlers
                .handler(o.kind)
                .blockers(o, world)
                .into_iter()
                .filter(|b| ids.contains(b.as_str()))
                .collect();
            (o.id.clone(), b)
        })
        .collect();
    let mut outcome = DestroyOutcome::default();
    let quiet = |_: Step| {};
    let prep_cx = DestroyCx {
        aws,
        world,
        wait: Waiter {
            timing: aws.timing,
            timeout: opts.wait_timeout,
            progress: &quiet,
        },
    };
    // Preparations are independent of each other: run side by side, so that one asking
    // again about something not visible yet holds up no other.
    let prep_cx = &prep_cx;
    let mut prep_failed: BTreeMap<String, AwsError> = futures::stream::iter(&doomed)
        .map(|o| async move {
            handlers
                .handler(o.kind)
                .prepare_delete(prep_cx, o)
                .await
                .err()
                .map(|e| (o.id.clone(), e))
        })
        .buffer_unordered(opts.concurrency.max(1))
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    let results = schedule::run(deps, opts.concurrency, |id| {
        let obs = doomed.iter().find(|o| o.id == id).cloned();
        let prep = prep_failed.remove(&id);
        async move {
            let Some(obs) = obs else {
                return Err(AwsError::from_fault(
                    "delete",
                    &id,
                    Fault::Untracked {
                        why: "not discovered",
                    },
                ));
            };
            if let Some(e) = prep {
                return Err(e);
            }
            let name = label(&obs);
            let handler = handlers.handler(obs.kind);
            reporter.event(Event::Started {
                name: name.clone(),
                kind: obs.kind,
                verb: Verb::Delete,
                // `typical` is how long creation takes; deletes have their own waits.
                typical: None,
            });
            let progress = |step: Step| reporter.event(Event::step(&name, step));
            let single = once.is_some() && handler.holds_what_is_inside();
            let cx = DestroyCx {
                aws,
                world,
                wait: Waiter {
                    timing: aws.timing,
                    timeout: if single {
                        std::time::Duration::ZERO
                    } else {
                        opts.wait_timeout.min(handler.delete_deadline())
                    },
                    progress: &progress,
                },
            };
            let start = Instant::now();
            match delete_confirmed(handlers, aws, owner, world, &cx, &obs).await {
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
        // Results are keyed by the ids of `doomed`.
        let Some(obs) = doomed.iter().find(|o| o.id == id) else {
            continue;
        };
        let kind = obs.kind;
        let name = label(obs);
        match r {
            NodeResult::Done((name, kind)) => outcome.deleted.push((name, kind, id)),
            NodeResult::Failed(e) => {
                let why = match once {
                    Some(once) if handlers.handler(kind).holds_what_is_inside() => {
                        format!("{e} ({once})")
                    }
                    _ => e.to_string(),
                };
                outcome.left.push((name, kind, id, why));
            }
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
