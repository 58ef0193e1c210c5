//! `plan`: what `up` would create, change or leave, from one discovery and no mutating call.

use serde::Serialize;

use super::Verb;
use super::apply::{find_owned, verb_for};
use super::discover;
use crate::aws::tags::Owner;
use crate::aws::{Aws, AwsError};
use crate::graph::Graph;
use crate::lab::{Kind, Lab, StageSel};
use crate::resources::Attr;

#[derive(Debug, Serialize)]
pub struct PlanItem {
    pub name: String,
    pub kind: Kind,
    pub verb: Verb,
    pub id: Option<String>,
    /// For `update`: the attributes that differ.
    pub changes: Vec<Attr>,
}

#[derive(Debug, Serialize)]
pub struct Plan {
    pub lab: String,
    pub env: String,
    pub items: Vec<PlanItem>,
}

impl Plan {
    pub fn count(&self, verb: Verb) -> usize {
        self.items.iter().filter(|i| i.verb == verb).count()
    }
}

pub async fn plan(aws: &Aws, lab: &Lab, stage: StageSel, owner: &Owner) -> Result<Plan, AwsError> {
    let world = discover::owned_for_compare(aws, owner, lab).await?;
    let bound = super::apply::bind_owned(&world, owner, lab);
    let graph = Graph::new(
        lab.resources_for(stage)
            .map(|r| (r.name.as_str(), r.spec.refs())),
    );
    let mut items = Vec::new();
    for level in graph.levels() {
        for name in level {
            let Some(res) = lab.resource(&name) else {
                continue;
            };
            let existing = find_owned(&world, owner, res, &bound);
            let verb = verb_for(res, existing, &bound, &world);
            let changes = match (verb, existing) {
                (Verb::Update, Some(o)) => res
                    .kind()
                    .handler()
                    .compare(res, o, &bound, &world)
                    .into_iter()
                    .filter(|a| !a.ok)
                    .collect(),
                _ => Vec::new(),
            };
            items.push(PlanItem {
                name,
                kind: res.kind(),
                verb,
                id: existing.map(|o| o.id.clone()),
                changes,
            });
        }
    }
    Ok(Plan {
        lab: lab.id.clone(),
        env: owner.env.clone(),
        items,
    })
}
