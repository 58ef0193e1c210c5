//! What the envs to bring up still need: an env that is already (partly) up needs only the
//! resources it lacks. Its resources are found as `up` finds them, by the owner's tags
//! (`awslab:lab`, `awslab:env`, `awslab:resource`), in one listing per kind for every env at
//! once.

use super::needs::Needs;
use crate::aws::tags::{self, Owner};
use crate::aws::{Aws, AwsError};
use crate::lab::{Kind, Lab, Resource, StageSel};
use crate::resources::{Observed, Scope};

/// What each of `envs` needs, in order: the quota needs of the resources of `stage` that it
/// does not have yet. A kind that cannot be listed counts as missing (the preflight then asks
/// for more, never less); so does a resource awslab cannot find by its tags.
pub async fn still_needed(
    aws: &Aws,
    lab: &Lab,
    stage: StageSel,
    envs: &[Owner],
) -> Result<Vec<Needs>, AwsError> {
    let counted: Vec<&Resource> = lab
        .resources_for(stage)
        .filter(|r| !Needs::of_resource(r, lab).is_empty())
        .collect();
    let mut kinds: Vec<Kind> = counted.iter().map(|r| r.kind()).collect();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() || envs.is_empty() {
        return Ok(vec![Needs::default(); envs.len()]);
    }
    let (found, unlisted) =
        crate::engine::discover::scope_partial(aws, &kinds, &Scope::AnyLab).await?;
    if !unlisted.is_empty() {
        tracing::debug!(
            "quota preflight: {} kind(s) not listed, counted as missing",
            unlisted.len()
        );
    }
    Ok(envs
        .iter()
        .map(|owner| missing(lab, &counted, &found, owner))
        .collect())
}

/// The needs of the resources of `counted` that `owner` has none of in `found`.
pub fn missing(lab: &Lab, counted: &[&Resource], found: &[Observed], owner: &Owner) -> Needs {
    Needs::of_resources(
        lab,
        counted
            .iter()
            .copied()
            .filter(|r| !found.iter().any(|o| is_of(o, owner, r))),
    )
}

fn is_of(o: &Observed, owner: &Owner, res: &Resource) -> bool {
    o.kind == res.kind()
        && !o.is_gone()
        && owner.owns(&o.tags)
        && o.tags.get(tags::RESOURCE).map(String::as_str) == Some(res.name.as_str())
}
