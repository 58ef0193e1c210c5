//! EBS snapshots: a lab's snapshot of one of its volumes, and the snapshots `CreateImage` makes
//! for an image (tagged at creation with the image's tags, so they are the env's too). Only this
//! account's snapshots are listed. `up` waits until `completed` (minutes for a first snapshot);
//! `down` deletes a snapshot once no image of the teardown uses it (AWS refuses while one does).
//! A snapshot bills by the GB until it is deleted, whatever happened to its volume or image.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, Snapshot, SnapshotState};
use toml::Spanned;

use super::ec2util::{filter, scope_filters};
use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, Poll, ResourceKind, Scope, SpecOf, World,
};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource};
use crate::resources::{AmiFacts, EbsVolumeSpec};

/// A snapshot of one of the lab's volumes.
#[derive(Debug, Clone)]
pub struct EbsSnapshotSpec {
    pub volume: String,
    pub description: Option<String>,
}

/// What AWS says of a snapshot.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EbsSnapshotFacts {
    pub volume_id: Option<String>,
    /// `pending`, `completed`, `error`, ...
    pub state: String,
    pub encrypted: bool,
    /// GiB of the volume it was taken of.
    pub size: Option<i32>,
    pub description: Option<String>,
}

impl crate::resources::KindSpec for EbsSnapshotSpec {
    fn refs(&self) -> Vec<&str> {
        let EbsSnapshotSpec { volume, .. } = self;
        vec![volume.as_str()]
    }
}

impl crate::resources::KindFacts for EbsSnapshotFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }

    /// A snapshot bills by the GB-month until it is deleted, after its image is deregistered
    /// and its volume deleted.
    fn kept_gib(&self) -> Option<i32> {
        let EbsSnapshotFacts { size, .. } = self;
        Some(size.unwrap_or(0))
    }
}

/// The keys of an `ebs_snapshot` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct EbsSnapshotKeys {
    /// The volume (an `ebs_volume` resource) the snapshot is taken of.
    #[schemars(with = "Option<String>")]
    pub volume: Option<Spanned<String>>,
    /// The snapshot's description (the key every resource may carry).
    pub description: Option<String>,
}

impl ParseSpec for EbsSnapshotSpec {
    type Keys = EbsSnapshotKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &EbsSnapshotKeys) -> Self {
        let volume = cx
            .required(name, Kind::EbsSnapshot, "volume", &d.volume)
            .cloned()
            .and_then(|v| cx.reference(&v, &[Kind::EbsVolume]));
        EbsSnapshotSpec {
            volume: volume.unwrap_or_default(),
            description: d.description.clone(),
        }
    }
}

pub struct EbsSnapshot;

/// `pending` to `completed`: a first snapshot of a small volume takes a minute or more.
const COMPLETED: Duration = Duration::from_secs(90);

fn observe(s: &Snapshot) -> Option<Observed> {
    Some(Observed {
        kind: Kind::EbsSnapshot,
        id: s.snapshot_id()?.to_owned(),
        tags: from_ec2(s.tags()),
        facts: Facts::EbsSnapshot(EbsSnapshotFacts {
            volume_id: s.volume_id().map(str::to_owned),
            state: s
                .state()
                .map_or("unknown", SnapshotState::as_str)
                .to_owned(),
            encrypted: s.encrypted().unwrap_or(false),
            size: s.volume_size(),
            description: s.description().map(str::to_owned),
        }),
    })
}

fn facts(o: &Observed) -> Option<&EbsSnapshotFacts> {
    match &o.facts {
        Facts::EbsSnapshot(f) => Some(f),
        _ => None,
    }
}

impl EbsSnapshot {
    /// One snapshot by id, asked with a `snapshot-id` filter: EC2 paces `DescribeSnapshots`
    /// without filters or pagination in a bucket of half the size and rate, and a wait's polls
    /// are most of its describes. The answer is matched by id.
    async fn describe_one(aws: &Aws, id: &str) -> Result<Option<Snapshot>, AwsError> {
        let out = aws
            .ec2
            .describe_snapshots()
            .filters(filter("snapshot-id", [id]))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeSnapshots", id, e));
        match out {
            Ok(out) => Ok(out
                .snapshots()
                .iter()
                .find(|s| s.snapshot_id() == Some(id))
                .cloned()),
            Err(e) if e.is_gone() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits until the snapshot is `completed`, with its progress.
    pub(crate) async fn wait_completed(
        wait: &super::Waiter<'_>,
        aws: &Aws,
        id: &str,
        label: &str,
    ) -> Result<Snapshot, AwsError> {
        let last = std::sync::Mutex::new(None);
        let last_ref = &last;
        wait.until(label, "completed", COMPLETED, || async {
            let s = Self::describe_one(aws, id).await?;
            let seen = s.as_ref().map(|s| {
                (
                    s.state()
                        .map_or("unknown", SnapshotState::as_str)
                        .to_owned(),
                    s.progress().unwrap_or_default().to_owned(),
                    s.state_message().unwrap_or_default().to_owned(),
                )
            });
            if let Ok(mut l) = last_ref.lock() {
                *l = s;
            }
            Ok(match seen {
                None => Poll::Waiting("not visible yet".to_owned()),
                Some((state, _, _)) if state == "completed" => Poll::Done,
                Some((state, _, message)) if state == "error" => {
                    return Err(AwsError::from_fault(
                        "ec2:DescribeSnapshots",
                        label,
                        Fault::CreationFailed {
                            what: "snapshot",
                            id: id.to_owned(),
                            state,
                            reason: message,
                        },
                    ));
                }
                Some((state, progress, _)) if progress.is_empty() => Poll::Waiting(state),
                Some((state, progress, _)) => Poll::Waiting(format!("{state} {progress}")),
            })
        })
        .await?;
        last.into_inner().ok().flatten().ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeSnapshots",
                label,
                Fault::Vanished {
                    while_waiting: true,
                },
            )
        })
    }
}

#[async_trait]
impl ResourceKind for EbsSnapshot {
    fn kind(&self) -> Kind {
        Kind::EbsSnapshot
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Regional
    }

    fn lookup(&self) -> super::Lookup {
        // An image's snapshots are graded with the image.
        super::Lookup::Region { with: &[Kind::Ami] }
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<super::Stamped, AwsError> {
        Ok(super::Stamped::Ec2)
    }

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let filters = match scope {
            Scope::InVpcs(_) => return Ok(Vec::new()),
            other => match scope_filters(other, None) {
                Some(f) => f,
                None => return Ok(Vec::new()),
            },
        };
        // This account's own: without an owner, AWS lists every public snapshot too.
        let snapshots = aws
            .ec2
            .describe_snapshots()
            .owner_ids("self")
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeSnapshots", "snapshots", e))?;
        Ok(snapshots.iter().filter_map(observe).collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let EbsSnapshotSpec {
            volume,
            description,
        } = super::spec_of(res)?;
        let id = match existing {
            Some(o) if facts(o).is_some_and(|f| f.state == "completed") => return Ok(o.clone()),
            Some(o) => o.id.clone(),
            None => {
                let volume_id = cx.bound.require(volume, &res.name)?;
                let description = description
                    .clone()
                    .unwrap_or_else(|| format!("{} of {volume}", res.name));
                // CreateSnapshot takes no client token: a run killed after it is found again by
                // its tags, which it carries from the start.
                let out = cx
                    .aws
                    .known("ec2:CreateSnapshot", &res.name, || {
                        cx.aws
                            .ec2
                            .create_snapshot()
                            .volume_id(volume_id)
                            .description(&description)
                            .tag_specifications(
                                cx.owner.tag_spec(ResourceType::Snapshot, &res.name),
                            )
                            .send()
                    })
                    .await?;
                out.snapshot_id()
                    .ok_or_else(|| {
                        AwsError::from_fault(
                            "ec2:CreateSnapshot",
                            &res.name,
                            Fault::NoId { what: "snapshot" },
                        )
                    })?
                    .to_owned()
            }
        };
        let s = Self::wait_completed(&cx.wait, cx.aws, &id, &res.name).await?;
        observe(&s).ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeSnapshots",
                &res.name,
                Fault::Vanished {
                    while_waiting: true,
                },
            )
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["volume", "encrypted", "state"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (Some(spec), Some(f)) = (EbsSnapshotSpec::of(&res.spec), facts(obs)) else {
            return Vec::new();
        };
        vec![
            Attr::new(
                "volume",
                &spec.volume,
                f.volume_id
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), |v| bound.label(v)),
            ),
            Attr::new("encrypted", true, f.encrypted),
            Attr::new("state", "completed", &f.state),
        ]
    }

    fn attr_hint(&self, res: &Resource, attr: &Attr) -> Option<String> {
        let volume = EbsSnapshotSpec::of(&res.spec).map_or("the volume", |s| s.volume.as_str());
        Some(match attr.key.as_str() {
            "volume" => format!(
                "snapshot `{volume}` (Volumes -> select it -> Actions -> Create snapshot), Name tag `{}`",
                res.name
            ),
            "encrypted" => format!(
                "snapshot the encrypted volume `{volume}`: a snapshot of an encrypted volume is encrypted"
            ),
            "state" => format!("wait until `{}` is Completed", res.name),
            _ => return None,
        })
    }

    /// An image that uses it must be deregistered first.
    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::Ami)
            .filter(|i| matches!(&i.facts, Facts::Ami(AmiFacts { snapshots, .. }) if snapshots.iter().any(|s| s.snapshot_id == obs.id)))
            .map(|i| i.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        // Right after its image is deregistered AWS may still say it is in use.
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ec2
                    .delete_snapshot()
                    .snapshot_id(&obs.id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| AwsError::from_sdk("ec2:DeleteSnapshot", &obs.id, e))
            })
            .await
    }

    /// The volume's size, counted whole.
    fn price(&self, res: &Resource, lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        let size = EbsSnapshotSpec::of(&res.spec)
            .and_then(|s| lab.resources.iter().find(|r| r.name == s.volume))
            .and_then(|v| EbsVolumeSpec::of(&v.spec))
            .map(|v| v.size);
        if let Some(gib) = size {
            e.snapshot(&res.name, gib);
        }
    }

    fn price_observed(&self, obs: &Observed, _eips: &[&str], e: &mut crate::cost::Estimate) {
        if let Some(f) = facts(obs) {
            let name = obs.name_tag().unwrap_or(&obs.id);
            e.snapshot(name, f.size.unwrap_or(0));
        }
    }

    fn typical(&self) -> Option<&'static str> {
        Some("completed in ~1-2 min")
    }
}
