//! Amazon Machine Images made from an instance of the lab (`CreateImage`): the image and the
//! snapshots AWS takes of the instance's volumes are tagged at creation with the owner's tags.
//! The image name is unique per account and region, so awslab names it per owner
//! (`awslab-<lab>-<env>-<name>`); `CreateImage` takes no client token, so a run that lost the
//! answer finds the image again by that name. `up` waits until `available` (minutes on AWS);
//! `down` deregisters it, and the snapshots it held go as snapshots of the env (they bill until
//! deleted, which deregistering alone does not do). Only this account's images are listed.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Image, ImageState, ResourceType};
use toml::Spanned;

use super::ec2util::filter;
use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, Poll, ResourceKind, Scope, SpecOf, World,
};
use crate::aws::tags::{self, Owner, from_ec2};
use crate::aws::{Aws, AwsError, Fault};
use crate::check::{FoundBy, Names};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource};

/// An image made from one of the lab's instances.
#[derive(Debug, Clone)]
pub struct AmiSpec {
    pub instance: String,
    pub description: Option<String>,
    /// Image the instance without rebooting it (AWS reboots it by default, so the file systems
    /// are consistent).
    pub no_reboot: bool,
}

/// One EBS snapshot of an image's block device mapping.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageSnapshot {
    pub device: String,
    pub snapshot_id: String,
    pub encrypted: bool,
    pub size: Option<i32>,
}

/// What AWS says of an image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AmiFacts {
    /// The image's own name (unique in the account and region).
    pub name: String,
    /// `pending`, `available`, `failed`, `deregistered`, ...
    pub state: String,
    /// Whether anyone may launch it (a public launch permission).
    pub public: bool,
    pub root_device: Option<String>,
    pub snapshots: Vec<ImageSnapshot>,
    /// The instance it was made from.
    pub source_instance: Option<String>,
    pub description: Option<String>,
}

impl AmiFacts {
    /// The snapshot of the root device.
    pub fn root_snapshot(&self) -> Option<&ImageSnapshot> {
        let root = self.root_device.as_deref()?;
        self.snapshots.iter().find(|s| s.device == root)
    }
}

impl crate::resources::KindSpec for AmiSpec {
    fn refs(&self) -> Vec<&str> {
        let AmiSpec { instance, .. } = self;
        vec![instance.as_str()]
    }
}

impl crate::resources::KindFacts for AmiFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }

    fn is_gone(&self) -> bool {
        let AmiFacts { state, .. } = self;
        state == "deregistered"
    }
}

/// The keys of an `ami` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct AmiKeys {
    /// The instance (an `instance` resource) the image is made from.
    #[schemars(with = "Option<String>")]
    pub instance: Option<Spanned<String>>,
    /// Make the image without rebooting the instance (default false: AWS reboots it so the
    /// file systems are consistent).
    #[schemars(with = "Option<bool>")]
    pub no_reboot: Option<Spanned<bool>>,
    /// The image's description (the key every resource may carry).
    pub description: Option<String>,
}

impl ParseSpec for AmiSpec {
    type Keys = AmiKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &AmiKeys) -> Self {
        let instance = cx
            .required(name, Kind::Ami, "instance", &d.instance)
            .cloned()
            .and_then(|i| cx.reference(&i, &[Kind::Instance]));
        AmiSpec {
            instance: instance.unwrap_or_default(),
            description: d.description.clone(),
            no_reboot: d.no_reboot.as_ref().is_some_and(|b| *b.get_ref()),
        }
    }
}

pub struct Ami;

/// `pending` to `available`: a few minutes for an 8 GiB root volume.
const AVAILABLE: Duration = Duration::from_secs(300);

/// The image name awslab gives an owner's image (unique in the account and region).
pub fn name_of(owner: &Owner, logical: &str) -> String {
    super::iam::name_of(owner, logical)
}

fn observe(i: &Image) -> Option<Observed> {
    let id = i.image_id()?.to_owned();
    let name = i.name().unwrap_or_default().to_owned();
    let mut tags = from_ec2(i.tags());
    // A hand-built image is known by its name.
    if !name.is_empty() {
        tags.entry(tags::NAME.to_owned())
            .or_insert_with(|| name.clone());
    }
    let snapshots = i
        .block_device_mappings()
        .iter()
        .filter_map(|m| {
            let ebs = m.ebs()?;
            Some(ImageSnapshot {
                device: m.device_name().unwrap_or_default().to_owned(),
                snapshot_id: ebs.snapshot_id()?.to_owned(),
                encrypted: ebs.encrypted().unwrap_or(false),
                size: ebs.volume_size(),
            })
        })
        .collect();
    Some(Observed {
        kind: Kind::Ami,
        id,
        tags,
        facts: Facts::Ami(AmiFacts {
            name,
            state: i.state().map_or("unknown", ImageState::as_str).to_owned(),
            public: i.public().unwrap_or(false),
            root_device: i.root_device_name().map(str::to_owned),
            snapshots,
            source_instance: i.source_instance_id().map(str::to_owned),
            description: i.description().map(str::to_owned),
        }),
    })
}

/// The states of an image AWS gave up on making.
const FAILED: &[&str] = &["failed", "error", "invalid"];

fn facts(o: &Observed) -> Option<&AmiFacts> {
    match &o.facts {
        Facts::Ami(f) => Some(f),
        _ => None,
    }
}

impl Ami {
    async fn describe_one(aws: &Aws, id: &str) -> Result<Option<Image>, AwsError> {
        let out = aws
            .ec2
            .describe_images()
            .image_ids(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeImages", id, e));
        match out {
            Ok(out) => Ok(out.images().first().cloned()),
            Err(e) if e.is_gone() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// This account's image named `name`, if any.
    async fn by_name(aws: &Aws, name: &str) -> Result<Option<Image>, AwsError> {
        let out = aws
            .ec2
            .describe_images()
            .owners("self")
            .filters(filter("name", [name]))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeImages", name, e))?;
        Ok(out.images().first().cloned())
    }

    async fn wait_available(cx: &ApplyCx<'_>, id: &str, label: &str) -> Result<Image, AwsError> {
        let last = std::sync::Mutex::new(None);
        let last_ref = &last;
        cx.wait
            .until(label, "available", AVAILABLE, || async {
                let i = Self::describe_one(cx.aws, id).await?;
                let seen = i.as_ref().map(|i| {
                    (
                        i.state().map_or("unknown", ImageState::as_str).to_owned(),
                        i.state_reason()
                            .and_then(|r| r.message())
                            .unwrap_or_default()
                            .to_owned(),
                    )
                });
                if let Ok(mut l) = last_ref.lock() {
                    *l = i;
                }
                Ok(match seen {
                    None => Poll::Waiting("not visible yet".to_owned()),
                    Some((state, _)) if state == "available" => Poll::Done,
                    Some((state, reason)) if FAILED.contains(&state.as_str()) => {
                        return Err(AwsError::from_fault(
                            "ec2:DescribeImages",
                            label,
                            Fault::CreationFailed {
                                what: "image",
                                id: id.to_owned(),
                                state,
                                reason,
                            },
                        ));
                    }
                    Some((state, _)) => Poll::Waiting(state),
                })
            })
            .await?;
        last.into_inner().ok().flatten().ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeImages",
                label,
                Fault::Vanished {
                    while_waiting: true,
                },
            )
        })
    }
}

#[async_trait]
impl ResourceKind for Ami {
    fn kind(&self) -> Kind {
        Kind::Ami
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Regional
    }

    fn lookup(&self) -> super::Lookup {
        super::Lookup::Named
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
        let (filters, names) = match scope {
            Scope::InVpcs(_) => return Ok(Vec::new()),
            Scope::Named(names) if names.is_empty() => return Ok(Vec::new()),
            // By the image's own name or its Name tag: both are the account's own images,
            // asked for once and told apart here.
            Scope::Named(names) => (Vec::new(), Some(names)),
            Scope::Owned(owner) => (owner.filters(), None),
            Scope::Region => (Vec::new(), None),
            Scope::AnyLab => (vec![filter("tag-key", [tags::LAB])], None),
            Scope::Owners(_) => match super::ec2util::scope_filters(scope, None) {
                Some(f) => (f, None),
                None => return Ok(Vec::new()),
            },
        };
        let images = aws
            .ec2
            .describe_images()
            .owners("self")
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeImages", "images", e))?;
        Ok(images
            .iter()
            .filter_map(observe)
            .filter(|o| match names {
                // A name match that awslab made for another lab or env is not a hand-built one.
                Some(names) => {
                    !o.tags.contains_key(tags::LAB)
                        && (o.name_tag().is_some_and(|n| names.iter().any(|w| w == n))
                            || facts(o).is_some_and(|f| names.contains(&f.name)))
                }
                None => true,
            })
            .collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let AmiSpec {
            instance,
            description,
            no_reboot,
        } = super::spec_of(res)?;
        let pending = match existing {
            Some(o) if facts(o).is_some_and(|f| f.state == "available") => return Ok(o.clone()),
            // An image AWS gave up on making never becomes available: this owner's goes, and
            // is made again (its snapshots, tagged at creation, go with `down`).
            Some(o) if facts(o).is_some_and(|f| FAILED.contains(&f.state.as_str())) => {
                cx.wait.note(format!(
                    "{} is {}: deregistering it and making the image again",
                    o.id,
                    facts(o).map_or("failed", |f| f.state.as_str())
                ));
                super::ec2util::gone_ok(
                    cx.aws
                        .ec2
                        .deregister_image()
                        .image_id(&o.id)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| AwsError::from_sdk("ec2:DeregisterImage", &o.id, e)),
                )?;
                None
            }
            Some(o) => Some(o.id.clone()),
            None => None,
        };
        let id = match pending {
            Some(id) => id,
            None => {
                let name = name_of(cx.owner, &res.name);
                let instance_id = cx.bound.require(instance, &res.name)?;
                let description = description
                    .clone()
                    .unwrap_or_else(|| format!("{} made from {instance}", res.name));
                let created = cx
                    .aws
                    .known("ec2:CreateImage", &res.name, || {
                        cx.aws
                            .ec2
                            .create_image()
                            .instance_id(instance_id)
                            .name(&name)
                            .description(&description)
                            .no_reboot(*no_reboot)
                            // The image and the snapshots of its volumes, tagged as they are
                            // made: a run killed now leaves nothing `down` cannot find.
                            .tag_specifications(cx.owner.tag_spec(ResourceType::Image, &res.name))
                            .tag_specifications(
                                cx.owner.tag_spec(ResourceType::Snapshot, &res.name),
                            )
                            .send()
                    })
                    .await;
                match created {
                    Ok(out) => out
                        .image_id()
                        .ok_or_else(|| {
                            AwsError::from_fault(
                                "ec2:CreateImage",
                                &res.name,
                                Fault::NoId { what: "image" },
                            )
                        })?
                        .to_owned(),
                    // Made by an earlier run whose answer was lost (the name is the owner's):
                    // carry on with it, if it is this owner's.
                    Err(e) if e.aws_code() == Some("InvalidAMIName.Duplicate") => {
                        let image = Self::by_name(cx.aws, &name).await?.ok_or(e)?;
                        if !cx.owner.owns(&from_ec2(image.tags())) {
                            return Err(AwsError::from_fault(
                                "ec2:CreateImage",
                                &res.name,
                                Fault::NotOurs {
                                    what: "an image",
                                    name,
                                },
                            ));
                        }
                        image.image_id().unwrap_or_default().to_owned()
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let image = Self::wait_available(cx, &id, &res.name).await?;
        observe(&image).ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeImages",
                &res.name,
                Fault::Vanished {
                    while_waiting: true,
                },
            )
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["instance", "state", "launch_permission", "root_snapshot"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (Some(spec), Some(f)) = (AmiSpec::of(&res.spec), facts(obs)) else {
            return Vec::new();
        };
        let root = match f.root_snapshot() {
            Some(s) if s.encrypted => format!("{} encrypted", s.snapshot_id),
            Some(s) => format!("{} not encrypted", s.snapshot_id),
            None => "no EBS root snapshot".to_owned(),
        };
        let want_root = match f.root_snapshot() {
            Some(s) => format!("{} encrypted", s.snapshot_id),
            None => "an encrypted EBS root snapshot".to_owned(),
        };
        vec![
            Attr::new(
                "instance",
                &spec.instance,
                f.source_instance
                    .as_deref()
                    .map_or_else(|| "unknown".to_owned(), |i| bound.label(i)),
            ),
            Attr::new("state", "available", &f.state),
            Attr::new(
                "launch_permission",
                "private",
                if f.public { "public" } else { "private" },
            ),
            Attr::new("root_snapshot", want_root, root),
        ]
    }

    fn attr_hint(&self, res: &Resource, attr: &Attr) -> Option<String> {
        let instance = AmiSpec::of(&res.spec).map_or("the instance", |s| s.instance.as_str());
        Some(match attr.key.as_str() {
            "instance" => format!(
                "make `{}` from `{instance}` (Actions -> Image and templates -> Create image)",
                res.name
            ),
            "state" => format!(
                "wait until `{}` is Available (minutes: AWS is snapshotting its volumes); a failed image must be deregistered and made again",
                res.name
            ),
            "launch_permission" => format!(
                "keep `{}` private: in its permissions remove the public launch permission (anyone could launch your server)",
                res.name
            ),
            "root_snapshot" => format!(
                "make the image from `{instance}`, whose root volume is encrypted: a snapshot is encrypted when its volume is (or copy the image with encryption on)"
            ),
            _ => return None,
        })
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        // Its snapshots are the env's own (tagged at creation): they go on their own, once the
        // image no longer holds them.
        cx.aws
            .ec2
            .deregister_image()
            .image_id(&obs.id)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("ec2:DeregisterImage", &obs.id, e))
    }

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        let f = facts(o)?;
        super::named_as(o, res, names, "image name", &f.name)
    }

    /// Free itself: its snapshots bill (priced with the snapshots). Before it exists, the
    /// root volume of the instance it is made from, snapshotted whole.
    fn price(&self, res: &Resource, lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        let Some(spec) = AmiSpec::of(&res.spec) else {
            return;
        };
        let root = lab
            .resources
            .iter()
            .find(|r| r.name == spec.instance)
            .and_then(|r| super::InstanceSpec::of(&r.spec))
            .and_then(|i| i.root_volume.as_ref())
            .and_then(|v| v.size);
        let gib = root.unwrap_or(crate::cost::ROOT_VOLUME_GB as i32);
        e.snapshot(&format!("{} root", res.name), gib);
    }

    fn ref_attr(&self, obs: &Observed, attr: &str) -> Option<String> {
        match attr {
            "root_snapshot" => facts(obs)?.root_snapshot().map(|s| s.snapshot_id.clone()),
            _ => None,
        }
    }

    /// Free: what it costs is its snapshots, priced as such.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}

    fn typical(&self) -> Option<&'static str> {
        Some("available in ~3-5 min")
    }
}
