//! `up`: discover what the owner already has, then create or fix only what is missing, in
//! parallel along the lab's graph. Run twice, the second run changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Instant;

use super::discover;
use super::handlers::Handlers;
use super::resolve::{Found, resolve};
use super::schedule::{self, NodeResult};
use super::{EngineOptions, Event, Reporter, Verb};
use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::{Lab, Resource, StageSel};
use crate::resources::{AmiCache, ApplyCx, Bindings, Observed, ResourceKind, Step, Waiter, World};

/// What `up` did, resource by resource.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub done: Vec<(String, Verb, String)>,
    pub failed: Vec<(String, AwsError)>,
    /// Not attempted, with the dependency that failed.
    pub skipped: Vec<(String, String)>,
    pub bound: Bindings,
}

impl ApplyOutcome {
    pub fn count(&self, verb: Verb) -> usize {
        self.done.iter().filter(|(_, v, _)| *v == verb).count()
    }
}

/// The owner's resource for a logical name (by the `awslab:resource` tag, or what the kind
/// knows; `bound` holds the dependencies already found).
pub fn find_owned<'w>(
    world: &'w World,
    owner: &Owner,
    res: &Resource,
    bound: &Bindings,
) -> Option<&'w Observed> {
    res.kind().handler().find_existing(world, owner, res, bound)
}

/// The owner's existing resources of the lab, bound by logical name. Kinds found through what
/// they belong to (a listener through its load balancer) need that bound first: bound until
/// nothing more is found.
pub fn bind_owned(world: &World, owner: &Owner, lab: &crate::lab::Lab) -> Bindings {
    bind_owned_via(&super::handlers::Registry, world, owner, lab)
}

/// [`bind_owned`] through the engine's handlers.
fn bind_owned_via(
    handlers: &dyn Handlers,
    world: &World,
    owner: &Owner,
    lab: &crate::lab::Lab,
) -> Bindings {
    resolve(&lab.resources, |r, bound, _| {
        match handlers
            .handler(r.kind())
            .find_existing(world, owner, r, bound)
        {
            Some(o) => Found::Bound(o, ()),
            None => Found::No,
        }
    })
    .0
}

/// What `up` would do to one resource, given what exists.
pub fn verb_for(
    res: &Resource,
    existing: Option<&Observed>,
    bound: &Bindings,
    world: &World,
) -> Verb {
    verb_of(res.kind().handler(), res, existing, bound, world)
}

/// [`verb_for`], as `handler` compares.
fn verb_of(
    handler: &dyn ResourceKind,
    res: &Resource,
    existing: Option<&Observed>,
    bound: &Bindings,
    world: &World,
) -> Verb {
    match existing {
        None => Verb::Create,
        Some(o) => {
            if handler.compare(res, o, bound, world).iter().all(|a| a.ok) {
                Verb::Keep
            } else {
                Verb::Update
            }
        }
    }
}

pub async fn apply(
    aws: &Aws,
    lab: &Lab,
    stage: StageSel,
    owner: &Owner,
    opts: &EngineOptions,
    reporter: &dyn Reporter,
) -> Result<ApplyOutcome, AwsError> {
    reporter.event(Event::Note("discovering what exists".to_owned()));
    let handlers = &*opts.handlers;
    let world = discover::owned_for_compare_via(handlers, aws, owner, lab).await?;
    let wanted: Vec<&Resource> = lab.resources_for(stage).collect();
    let names: BTreeSet<&str> = wanted.iter().map(|r| r.name.as_str()).collect();
    let deps: BTreeMap<String, BTreeSet<String>> = wanted
        .iter()
        .map(|r| {
            let d = r
                .spec
                .refs()
                .into_iter()
                .filter(|x| names.contains(x))
                .map(str::to_owned)
                .collect();
            (r.name.clone(), d)
        })
        .collect();
    // Resources of another stage that already exist are still bound (references may need them).
    let bound = Mutex::new(bind_owned_via(handlers, &world, owner, lab));
    let amis = AmiCache::default();
    let verbs = Mutex::new(BTreeMap::new());
    let results = schedule::run(deps, opts.concurrency, |name| {
        let res = wanted.iter().find(|r| r.name == name).copied();
        let snapshot = bound.lock().map(|b| b.clone()).unwrap_or_default();
        let world = &world;
        let amis = &amis;
        let bound = &bound;
        let verbs = &verbs;
        async move {
            let Some(res) = res else {
                return Err(AwsError::from_fault(
                    "apply",
                    &name,
                    Fault::Untracked {
                        why: "not in the lab",
                    },
                ));
            };
            let handler = handlers.handler(res.kind());
            let existing = handler.find_existing(world, owner, res, &snapshot);
            let verb = verb_of(handler, res, existing, &snapshot, world);
            if let Ok(mut v) = verbs.lock() {
                v.insert(name.clone(), verb);
            }
            let start = Instant::now();
            let obs = if verb == Verb::Keep {
                existing.cloned().ok_or_else(|| {
                    AwsError::from_fault("apply", &name, Fault::Untracked { why: "vanished" })
                })?
            } else {
                reporter.event(Event::Started {
                    name: name.clone(),
                    kind: res.kind(),
                    verb,
                    typical: handler.typical(),
                });
                let progress = |step: Step| reporter.event(Event::step(&name, step));
                let cx = ApplyCx {
                    aws,
                    owner,
                    bound: &snapshot,
                    azs: &world.azs,
                    keys_dir: &opts.keys_dir,
                    amis,
                    wait: Waiter {
                        timing: aws.timing,
                        timeout: opts.wait_timeout,
                        progress: &progress,
                    },
                };
                match handler.apply(&cx, res, existing).await {
                    Ok(o) => o,
                    Err(e) => {
                        reporter.event(Event::Failed {
                            name: name.clone(),
                            kind: res.kind(),
                            error: e.to_string(),
                        });
                        return Err(e);
                    }
                }
            };
            reporter.event(Event::Finished {
                name: name.clone(),
                kind: res.kind(),
                id: obs.id.clone(),
                verb,
                elapsed: start.elapsed(),
            });
            let id = obs.id.clone();
            if let Ok(mut b) = bound.lock() {
                b.insert(&name, obs);
            }
            Ok(id)
        }
    })
    .await;
    let verbs = verbs.into_inner().unwrap_or_default();
    let mut outcome = ApplyOutcome {
        bound: bound.into_inner().unwrap_or_default(),
        ..ApplyOutcome::default()
    };
    for (name, r) in results {
        match r {
            NodeResult::Done(id) => {
                let verb = verbs.get(&name).copied().unwrap_or(Verb::Keep);
                outcome.done.push((name, verb, id));
            }
            NodeResult::Failed(e) => outcome.failed.push((name, e)),
            NodeResult::Skipped(cause) => {
                reporter.event(Event::Skipped {
                    name: name.clone(),
                    reason: format!("{cause} failed"),
                });
                outcome.skipped.push((name, cause));
            }
        }
    }
    Ok(outcome)
}
