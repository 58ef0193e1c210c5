//! EBS volumes attached to an instance (a data volume beside the root one). Made in the
//! instance's availability zone, tagged at creation with a client token, attached and waited for
//! until in use. A volume AWS deletes with its instance (a root volume) is part of the instance,
//! not a resource of its own: it is not listed here, and its storage is priced with the instance.
//! `down` terminates the instance first (a volume cannot go while attached to a live one), then
//! detaches what is still attached and deletes.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, Volume, VolumeState, VolumeType};
use toml::Spanned;

use super::ec2util::{filter, scope_filters};
use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, Poll, ResourceKind, Scope, SpecOf, World,
};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource};
use crate::resources::InstanceFacts;

/// A data volume, attached to an instance of the lab.
#[derive(Debug, Clone)]
pub struct EbsVolumeSpec {
    /// The instance it is attached to (and whose availability zone it is made in).
    pub instance: String,
    /// GiB.
    pub size: i32,
    pub volume_type: String,
    pub encrypted: bool,
    /// The device name it is attached as (`/dev/sdf`).
    pub device: String,
}

/// What AWS says of a volume.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EbsVolumeFacts {
    pub az: Option<String>,
    pub size: Option<i32>,
    pub volume_type: Option<String>,
    pub encrypted: bool,
    /// `creating`, `available`, `in-use`, `deleting`, ...
    pub state: String,
    /// The instance it is attached to, and as which device.
    pub attached_to: Option<String>,
    pub device: Option<String>,
}

impl crate::resources::KindSpec for EbsVolumeSpec {
    fn refs(&self) -> Vec<&str> {
        let EbsVolumeSpec { instance, .. } = self;
        vec![instance.as_str()]
    }
}

impl crate::resources::KindFacts for EbsVolumeFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }

    fn is_gone(&self) -> bool {
        let EbsVolumeFacts { state, .. } = self;
        state == "deleted"
    }
}

/// The keys of an `ebs_volume` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct EbsVolumeKeys {
    /// The instance (an `instance` resource) the volume is made in the AZ of and attached to.
    #[schemars(with = "Option<String>")]
    pub instance: Option<Spanned<String>>,
    /// Size in GiB (1 to 16384).
    #[schemars(with = "Option<i64>")]
    pub size: Option<Spanned<i64>>,
    /// Volume type: gp3 (default), gp2, io1, io2, st1, sc1 or standard.
    #[schemars(with = "Option<String>")]
    pub volume_type: Option<Spanned<String>>,
    /// Encrypt the volume with the account's default EBS key.
    #[schemars(with = "Option<bool>")]
    pub encrypted: Option<Spanned<bool>>,
    /// The device name it is attached as (default `/dev/sdf`).
    #[schemars(with = "Option<String>")]
    pub device: Option<Spanned<String>>,
}

impl ParseSpec for EbsVolumeSpec {
    type Keys = EbsVolumeKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &EbsVolumeKeys) -> Self {
        let kind = Kind::EbsVolume;
        let instance = cx
            .required(name, kind, "instance", &d.instance)
            .cloned()
            .and_then(|i| cx.reference(&i, &[Kind::Instance]));
        let size = cx
            .required(name, kind, "size", &d.size)
            .cloned()
            .and_then(|s| super::storage::size(cx, &s));
        let device = match &d.device {
            None => "/dev/sdf".to_owned(),
            Some(dev) if is_device(dev.get_ref()) => dev.get_ref().clone(),
            Some(dev) => {
                cx.error(
                    dev.span(),
                    format!("`{}` is not a device name such as /dev/sdf", dev.get_ref()),
                    "invalid device",
                );
                "/dev/sdf".to_owned()
            }
        };
        EbsVolumeSpec {
            instance: instance.unwrap_or_default(),
            size: size.unwrap_or(1),
            volume_type: super::storage::volume_type(cx, &d.volume_type),
            encrypted: d.encrypted.as_ref().is_some_and(|e| *e.get_ref()),
            device,
        }
    }
}

/// `/dev/sd[f-p]` or `/dev/xvd[b-z]`, what Linux instances take for data volumes.
fn is_device(d: &str) -> bool {
    let letter = |rest: &str, from: char, to: char| {
        let mut c = rest.chars();
        matches!((c.next(), c.next()), (Some(l), None) if (from..=to).contains(&l))
    };
    d.strip_prefix("/dev/sd")
        .is_some_and(|rest| letter(rest, 'f', 'p'))
        || d.strip_prefix("/dev/xvd")
            .is_some_and(|rest| letter(rest, 'b', 'z'))
}

pub struct EbsVolume;

/// `creating` to `available`: seconds.
const AVAILABLE: Duration = Duration::from_secs(10);
/// `attaching` to `attached`, `detaching` to `available`: seconds.
const ATTACHED: Duration = Duration::from_secs(10);

fn observe(v: &Volume) -> Option<Observed> {
    let attachment = v.attachments().first();
    // Deleted with its instance: part of the instance.
    if attachment.is_some_and(|a| a.delete_on_termination() == Some(true)) {
        return None;
    }
    Some(Observed {
        kind: Kind::EbsVolume,
        id: v.volume_id()?.to_owned(),
        tags: from_ec2(v.tags()),
        facts: Facts::EbsVolume(EbsVolumeFacts {
            az: v.availability_zone().map(str::to_owned),
            size: v.size(),
            volume_type: v.volume_type().map(|t| t.as_str().to_owned()),
            encrypted: v.encrypted().unwrap_or(false),
            state: v.state().map_or("unknown", VolumeState::as_str).to_owned(),
            attached_to: attachment.and_then(|a| a.instance_id()).map(str::to_owned),
            device: attachment.and_then(|a| a.device()).map(str::to_owned),
        }),
    })
}

fn facts(o: &Observed) -> Option<&EbsVolumeFacts> {
    match &o.facts {
        Facts::EbsVolume(f) => Some(f),
        _ => None,
    }
}

impl EbsVolume {
    /// The volume now; `None` when AWS does not list it (not visible yet, or deleted).
    /// One volume by id, asked with a `volume-id` filter: EC2 paces `DescribeVolumes` without
    /// filters or pagination in a bucket of half the size and rate. The answer is matched by id.
    async fn describe_one(aws: &Aws, id: &str) -> Result<Option<Volume>, AwsError> {
        let out = aws
            .ec2
            .describe_volumes()
            .filters(filter("volume-id", [id]))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeVolumes", id, e));
        match out {
            Ok(out) => Ok(out
                .volumes()
                .iter()
                .find(|v| v.volume_id() == Some(id))
                .cloned()),
            Err(e) if e.is_gone() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits until the volume is `want` (`available`, `in-use`), with `attached` saying whether
    /// it must be attached or detached.
    async fn wait_state(
        wait: &super::Waiter<'_>,
        aws: &Aws,
        id: &str,
        label: &str,
        want: &str,
    ) -> Result<Volume, AwsError> {
        let last = std::sync::Mutex::new(None);
        let last_ref = &last;
        let typical = if want == "available" {
            AVAILABLE
        } else {
            ATTACHED
        };
        wait.until(label, want, typical, || async {
            let v = Self::describe_one(aws, id).await?;
            let state = v.as_ref().map(|v| {
                let attach = v
                    .attachments()
                    .first()
                    .and_then(|a| a.state())
                    .map(|s| s.as_str().to_owned());
                (
                    v.state().map_or("unknown", VolumeState::as_str).to_owned(),
                    attach,
                )
            });
            if let Ok(mut l) = last_ref.lock() {
                *l = v;
            }
            Ok(match state {
                None => Poll::Waiting("not visible yet".to_owned()),
                Some((s, _)) if s == "error" => {
                    return Err(AwsError::from_fault(
                        "ec2:DescribeVolumes",
                        label,
                        Fault::CreationFailed {
                            what: "volume",
                            id: id.to_owned(),
                            state: s,
                            reason: "AWS could not create it".to_owned(),
                        },
                    ));
                }
                Some((s, attach)) if s == want => match (want, attach.as_deref()) {
                    ("in-use", Some("attached")) | ("available", None) => Poll::Done,
                    ("available", Some(a)) => Poll::Waiting(a.to_owned()),
                    (_, a) => Poll::Waiting(a.unwrap_or("attaching").to_owned()),
                },
                Some((s, _)) => Poll::Waiting(s),
            })
        })
        .await?;
        last.into_inner().ok().flatten().ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeVolumes",
                label,
                Fault::Vanished {
                    while_waiting: true,
                },
            )
        })
    }
}

#[async_trait]
impl ResourceKind for EbsVolume {
    fn kind(&self) -> Kind {
        Kind::EbsVolume
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Regional
    }

    fn lookup(&self) -> super::Lookup {
        super::Lookup::Region { with: &[] }
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
            // Volumes live in no VPC: the instances they are attached to do.
            Scope::InVpcs(_) => return Ok(Vec::new()),
            other => match scope_filters(other, None) {
                Some(f) => f,
                None => return Ok(Vec::new()),
            },
        };
        let volumes = aws
            .ec2
            .describe_volumes()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeVolumes", "volumes", e))?;
        Ok(volumes.iter().filter_map(observe).collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let EbsVolumeSpec {
            instance,
            size,
            volume_type,
            encrypted,
            device,
        } = super::spec_of(res)?;
        let instance_id = cx.bound.require(instance, &res.name)?.to_owned();
        let id = match existing {
            Some(o) => o.id.clone(),
            None => {
                let az = match cx.bound.get(instance).map(|o| &o.facts) {
                    Some(Facts::Instance(InstanceFacts { az: Some(az), .. })) => az.clone(),
                    _ => {
                        return Err(AwsError::from_fault(
                            "resolve",
                            &res.name,
                            Fault::NotCreated {
                                name: format!("{instance} (its availability zone)"),
                            },
                        ));
                    }
                };
                let req = cx
                    .aws
                    .ec2
                    .create_volume()
                    .availability_zone(az)
                    .size(*size)
                    .volume_type(VolumeType::from(volume_type.as_str()))
                    .encrypted(*encrypted)
                    .tag_specifications(cx.owner.tag_spec(ResourceType::Volume, &res.name))
                    // A retried create whose answer was lost returns the same volume.
                    .client_token(cx.owner.client_token(&res.name));
                let out = req
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:CreateVolume", &res.name, e))?;
                out.volume_id()
                    .ok_or_else(|| {
                        AwsError::from_fault(
                            "ec2:CreateVolume",
                            &res.name,
                            Fault::NoId { what: "volume" },
                        )
                    })?
                    .to_owned()
            }
        };
        let now = match existing.and_then(facts) {
            Some(f) if f.state != "creating" => None,
            _ => Some(Self::wait_state(&cx.wait, cx.aws, &id, &res.name, "available").await?),
        };
        let attached_to = match &now {
            Some(v) => v
                .attachments()
                .first()
                .and_then(|a| a.instance_id())
                .map(str::to_owned),
            None => existing.and_then(facts).and_then(|f| f.attached_to.clone()),
        };
        if attached_to.is_none() {
            cx.aws
                .known("ec2:AttachVolume", &res.name, || {
                    cx.aws
                        .ec2
                        .attach_volume()
                        .volume_id(&id)
                        .instance_id(&instance_id)
                        .device(device)
                        .send()
                })
                .await?;
        }
        let v = Self::wait_state(&cx.wait, cx.aws, &id, &res.name, "in-use").await?;
        observe(&v).ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeVolumes",
                &res.name,
                Fault::Vanished {
                    while_waiting: true,
                },
            )
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["size", "encrypted", "instance"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (Some(spec), Some(f)) = (EbsVolumeSpec::of(&res.spec), facts(obs)) else {
            return Vec::new();
        };
        vec![
            Attr::new(
                "size",
                format!("{} GiB", spec.size),
                f.size
                    .map_or_else(|| "unknown".to_owned(), |s| format!("{s} GiB")),
            ),
            Attr::new("encrypted", spec.encrypted, f.encrypted),
            Attr::new(
                "instance",
                &spec.instance,
                f.attached_to
                    .as_deref()
                    .map_or_else(|| "not attached".to_owned(), |i| bound.label(i)),
            ),
        ]
    }

    /// Attached to a live instance of the teardown, it waits for that instance to go (a
    /// terminated instance lets go of its volumes).
    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        facts(obs)
            .and_then(|f| f.attached_to.clone())
            .filter(|i| world.get(i).is_some_and(|o| !o.is_gone()))
            .into_iter()
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        // Attached to an instance that stays (not this teardown's): detach it first.
        let now = Self::describe_one(cx.aws, &obs.id).await?;
        if let Some(v) = &now
            && v.attachments()
                .first()
                .is_some_and(|a| a.state().is_some_and(|s| s.as_str() != "detached"))
        {
            cx.aws
                .ec2
                .detach_volume()
                .volume_id(&obs.id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ec2:DetachVolume", &obs.id, e))?;
            Self::wait_state(&cx.wait, cx.aws, &obs.id, &obs.id, "available").await?;
        }
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ec2
                    .delete_volume()
                    .volume_id(&obs.id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| AwsError::from_sdk("ec2:DeleteVolume", &obs.id, e))
            })
            .await
    }

    fn price(&self, res: &Resource, _lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        if let Some(spec) = EbsVolumeSpec::of(&res.spec) {
            e.volume(&res.name, spec.size, &spec.volume_type);
        }
    }

    fn price_observed(&self, obs: &Observed, _eips: &[&str], e: &mut crate::cost::Estimate) {
        if let Some(f) = facts(obs)
            && !obs.is_gone()
        {
            let name = obs.name_tag().unwrap_or(&obs.id);
            e.volume(
                name,
                f.size.unwrap_or(0),
                f.volume_type.as_deref().unwrap_or("gp3"),
            );
        }
    }

    fn typical(&self) -> Option<&'static str> {
        Some("available and attached in ~15 s")
    }
}

#[cfg(test)]
mod tests {
    use super::is_device;

    #[test]
    fn data_volume_devices_are_the_ones_linux_takes() {
        for ok in ["/dev/sdf", "/dev/sdp", "/dev/xvdb", "/dev/xvdz"] {
            assert!(is_device(ok), "{ok}");
        }
        for bad in ["/dev/sda1", "/dev/sdq", "sdf", "/dev/xvda", "/dev/sdff", ""] {
            assert!(!is_device(bad), "{bad}");
        }
    }
}
