//! EC2 instances: the image is looked up (SSM public parameter) at apply time, never hard-coded,
//! or is the lab's own image; an instance may be launched from a launch template's default
//! version instead. `up` waits until running, `down` until terminated.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IamInstanceProfileSpecification, InstanceStateName, InstanceType, LaunchTemplateSpecification,
    ResourceType,
};
use tokio::sync::Mutex;

use super::ec2util::{filter, scope_filters};
use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, Poll, ResourceKind, Scope, World,
};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{AmiRef, Kind, Resource, Spec};
use crate::quota::Quota;
use crate::resources::SpecOf;
use crate::resources::{AutoScalingGroupFacts, InstanceProfileFacts, KeyPairFacts};
use toml::Spanned;

/// What a lab file declares for an instance.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    pub subnet: String,
    /// The image; launched from a template, the image it must run (the template's default
    /// version gives it).
    pub ami: Option<crate::lab::AmiRef>,
    /// Launched from this launch template's default version.
    pub launch_template: Option<String>,
    /// The root volume, when the image's default is not what the lab wants.
    pub root_volume: Option<super::storage::RootVolume>,
    pub instance_type: String,
    pub security_groups: Vec<String>,
    pub key: Option<String>,
    pub instance_profile: Option<String>,
    /// A script run once at first boot.
    pub user_data: Option<String>,
}

/// The vCPUs of an instance of `instance_type` when the type counts against the "Running
/// On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" quota; `None` for the families with
/// quotas of their own (G, P, X, Inf, DL, HPC, ...). The small burstable sizes labs use are
/// AWS's own figures; larger sizes follow AWS's naming (large: 2, xlarge: 4, Nxlarge: 4N);
/// a size that names no count (`metal`) is taken as 96, the most of the common families.
pub fn standard_vcpus(instance_type: &str) -> Option<u32> {
    let (family, size) = instance_type.split_once('.')?;
    let family = family.to_ascii_lowercase();
    let other_quota = ["inf", "dl", "hpc", "trn", "vt"];
    if other_quota.iter().any(|p| family.starts_with(p))
        || !family.starts_with(['a', 'c', 'd', 'h', 'i', 'm', 'r', 't', 'z'])
    {
        return None;
    }
    let vcpus = match (family.as_str(), size) {
        ("t1", _) | ("t2", "nano" | "micro" | "small") => 1,
        (_, "nano" | "micro" | "small" | "medium" | "large") => 2,
        (_, "xlarge") => 4,
        (_, size) => size
            .strip_suffix("xlarge")
            .and_then(|n| n.parse::<u32>().ok())
            .map_or(96, |n| n.saturating_mul(4)),
    };
    Some(vcpus)
}

/// What AWS says of an instance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceFacts {
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub state: String,
    pub instance_type: String,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    /// The instance profile's ARN.
    pub instance_profile: Option<String>,
    pub image_id: Option<String>,
    pub az: Option<String>,
    /// The launch template it was launched from (AWS tags the instance with it).
    pub launch_template: Option<String>,
}

/// The tag AWS puts on an instance launched from a launch template.
pub const LAUNCHED_FROM_TAG: &str = "aws:ec2launchtemplate:id";

impl crate::resources::KindSpec for InstanceSpec {
    fn refs(&self) -> Vec<&str> {
        let InstanceSpec {
            subnet,
            security_groups,
            key,
            instance_profile,
            ami,
            launch_template,
            ..
        } = self;
        let mut out = vec![subnet.as_str()];
        if let Some(crate::lab::AmiRef::Resource(image)) = ami {
            out.push(image);
        }
        out.extend(launch_template.as_deref());
        out.extend(security_groups.iter().map(String::as_str));
        out.extend(key.as_deref());
        out.extend(instance_profile.as_deref());
        out
    }
}

impl crate::resources::KindFacts for InstanceFacts {
    fn security_groups(&self) -> Vec<&str> {
        self.security_groups.iter().map(String::as_str).collect()
    }

    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let InstanceFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }

    fn subnet_ids(&self) -> Vec<&str> {
        let InstanceFacts { subnet_id, .. } = self;
        subnet_id.as_deref().into_iter().collect()
    }

    fn is_gone(&self) -> bool {
        let InstanceFacts { state, .. } = self;
        state == "terminated"
    }
}

/// The keys of an `instance` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct InstanceKeys {
    /// The subnet the instance is launched in.
    #[schemars(with = "Option<String>")]
    pub subnet: Option<toml::Spanned<String>>,
    /// The image: an SSM public parameter (`ssm:/aws/service/...`) or an `ami-` id.
    #[schemars(with = "Option<String>")]
    pub ami: Option<toml::Spanned<String>>,
    /// Instance type (default `t3.micro`).
    #[schemars(with = "Option<String>")]
    pub instance_type: Option<toml::Spanned<String>>,
    /// Security groups of the instance.
    #[schemars(with = "Option<Vec<String>>")]
    pub security_groups: Option<Vec<toml::Spanned<String>>>,
    /// The key pair (a `key_pair` resource) for SSH.
    #[schemars(with = "Option<String>")]
    pub key: Option<toml::Spanned<String>>,
    /// The instance profile (an `instance_profile` resource) that gives the instance a role.
    #[schemars(with = "Option<String>")]
    pub instance_profile: Option<toml::Spanned<String>>,
    /// A script run at first boot.
    #[schemars(with = "Option<String>")]
    pub user_data: Option<toml::Spanned<String>>,
    /// The launch template (a `launch_template` resource) the instance is launched from, at
    /// its default version; it gives the image unless `ami` is set.
    #[schemars(with = "Option<String>")]
    pub launch_template: Option<toml::Spanned<String>>,
    /// The root volume: `{ size = 8, type = "gp3", encrypted = true }`.
    #[schemars(with = "Option<super::storage::RootVolumeDef>")]
    pub root_volume: Option<toml::Spanned<super::storage::RootVolumeDef>>,
}

impl ParseSpec for InstanceSpec {
    type Keys = InstanceKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &InstanceKeys) -> Self {
        let kind = Kind::Instance;
        let subnet = cx.required(name, kind, "subnet", &d.subnet).cloned();
        let subnet = subnet.and_then(|s| cx.reference(&s, &[Kind::Subnet]));
        let launch_template = d
            .launch_template
            .as_ref()
            .and_then(|t| cx.reference(t, &[Kind::LaunchTemplate]));
        // A template gives the image; without one, the lab must.
        let ami = if d.launch_template.is_some() {
            cx.ami_opt(&d.ami)
        } else {
            Some(cx.ami(name, kind, &d.ami))
        };
        let root_volume = super::storage::parse(cx, &d.root_volume);
        let instance_type = cx.instance_type(&d.instance_type);
        let security_groups = cx.groups(&d.security_groups);
        let key = d
            .key
            .as_ref()
            .and_then(|k| cx.reference(k, &[Kind::KeyPair]));
        InstanceSpec {
            subnet: subnet.unwrap_or_default(),
            ami,
            launch_template,
            root_volume,
            instance_type,
            security_groups,
            key,
            instance_profile: d
                .instance_profile
                .as_ref()
                .and_then(|p| cx.reference(p, &[Kind::InstanceProfile])),
            user_data: d.user_data.as_ref().and_then(|u| cx.text(u)),
        }
    }
}

pub struct Instance;

/// `pending` to `running`: 20 to 35 s.
const RUNNING: Duration = Duration::from_secs(30);
/// `shutting-down` to `terminated`: 20 to 30 s, sometimes minutes.
const TERMINATED: Duration = Duration::from_secs(30);

/// SSM parameter -> image id, so two instances cost one lookup.
#[derive(Debug, Default)]
pub struct AmiCache(Mutex<BTreeMap<String, String>>);

impl AmiCache {
    pub async fn resolve(
        &self,
        aws: &Aws,
        ami: &AmiRef,
        resource: &str,
    ) -> Result<String, AwsError> {
        let path = match ami {
            AmiRef::Id(id) => return Ok(id.clone()),
            AmiRef::Ssm(path) => path,
            // Made by this lab: its id is bound, not looked up.
            AmiRef::Resource(name) => {
                return Err(AwsError::from_fault(
                    "resolve",
                    resource,
                    Fault::NotCreated { name: name.clone() },
                ));
            }
        };
        let mut cache = self.0.lock().await;
        if let Some(id) = cache.get(path) {
            return Ok(id.clone());
        }
        let out = aws
            .ssm
            .get_parameter()
            .name(path)
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk("ssm:GetParameter", format!("{resource} image {path}"), e)
            })?;
        let id = out
            .parameter()
            .and_then(|p| p.value())
            .ok_or_else(|| {
                AwsError::from_fault(
                    "ssm:GetParameter",
                    resource,
                    Fault::NoValue {
                        parameter: path.clone(),
                    },
                )
            })?
            .to_owned();
        cache.insert(path.clone(), id.clone());
        Ok(id)
    }
}

/// The image id `ami` names: the lab's own image as bound, else looked up.
pub async fn image_id(cx: &ApplyCx<'_>, ami: &AmiRef, resource: &str) -> Result<String, AwsError> {
    match ami {
        AmiRef::Resource(name) => Ok(cx.bound.require(name, resource)?.to_owned()),
        other => cx.amis.resolve(cx.aws, other, resource).await,
    }
}

/// The instance's security groups: those DescribeInstances lists on the instance and those of
/// its primary network interface. An instance launched with an explicit network interface (as
/// the console does when a public IP is requested) may carry its groups only there.
fn security_groups(i: &aws_sdk_ec2::types::Instance) -> Vec<String> {
    let primary = i
        .network_interfaces()
        .iter()
        .filter(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
        .flat_map(|n| n.groups());
    let mut ids: Vec<String> = Vec::new();
    for g in i.security_groups().iter().chain(primary) {
        if let Some(id) = g.group_id()
            && !ids.iter().any(|x| x == id)
        {
            ids.push(id.to_owned());
        }
    }
    ids
}

fn observe(i: &aws_sdk_ec2::types::Instance) -> Option<Observed> {
    let tags = from_ec2(i.tags());
    Some(Observed {
        kind: Kind::Instance,
        id: i.instance_id()?.to_owned(),
        facts: Facts::Instance(InstanceFacts {
            image_id: i.image_id().map(str::to_owned),
            az: i
                .placement()
                .and_then(|p| p.availability_zone())
                .map(str::to_owned),
            launch_template: tags.get(LAUNCHED_FROM_TAG).cloned(),
            instance_profile: i
                .iam_instance_profile()
                .and_then(|p| p.arn())
                .map(str::to_owned),
            vpc_id: i.vpc_id().map(str::to_owned),
            subnet_id: i.subnet_id().map(str::to_owned),
            state: i
                .state()
                .and_then(|s| s.name())
                .map_or("unknown", InstanceStateName::as_str)
                .to_owned(),
            instance_type: i
                .instance_type()
                .map_or("unknown", InstanceType::as_str)
                .to_owned(),
            security_groups: security_groups(i),
            key_name: i.key_name().map(str::to_owned),
            public_ip: i.public_ip_address().map(str::to_owned),
            private_ip: i.private_ip_address().map(str::to_owned),
        }),
        tags,
    })
}

fn state(o: &Observed) -> &str {
    match &o.facts {
        Facts::Instance(InstanceFacts { state, .. }) => state,
        _ => "unknown",
    }
}

impl Instance {
    /// One instance by id. Asked with an `instance-id` filter rather than `InstanceIds`: EC2
    /// throttles `DescribeInstances` without filters or pagination in a bucket of half the
    /// size and rate, and the polls of a class's waits are most of its describes. The answer
    /// is matched by id, so a server that ignores the filter is still read right.
    async fn describe_one(aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let out = aws
            .ec2
            .describe_instances()
            .filters(filter("instance-id", [id]))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", id, e));
        match out {
            Ok(out) => Ok(out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .filter(|i| i.instance_id() == Some(id))
                .find_map(observe)),
            Err(e) if e.is_gone() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ResourceKind for Instance {
    fn kind(&self) -> Kind {
        Kind::Instance
    }

    /// Its vCPUs, when its type counts against the On-Demand Standard quota.
    fn quota_needs(&self, res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        InstanceSpec::of(&res.spec)
            .and_then(|spec| standard_vcpus(&spec.instance_type))
            .map(|vcpus| vec![(Quota::OnDemandStandardVcpus, vcpus)])
            .unwrap_or_default()
    }

    fn price(&self, res: &Resource, lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        if let Spec::Instance(InstanceSpec {
            subnet,
            instance_type,
            ..
        }) = &res.spec
        {
            e.instance(
                &res.name,
                instance_type,
                crate::resources::subnet::maps_public_ip(lab, subnet),
            );
        }
    }

    /// Terminated instances cost nothing; a stopped one its volume.
    fn price_observed(&self, obs: &Observed, eips: &[&str], e: &mut crate::cost::Estimate) {
        if let Facts::Instance(InstanceFacts {
            state,
            instance_type,
            public_ip,
            ..
        }) = &obs.facts
            && !matches!(state.as_str(), "terminated" | "shutting-down")
        {
            let name = obs.name_tag().unwrap_or(&obs.id);
            let own_public = public_ip.as_deref().is_some_and(|ip| !eips.contains(&ip));
            let running = !matches!(state.as_str(), "stopped" | "stopping");
            e.instance_in_state(name, instance_type, own_public && running, running);
        }
    }

    fn placement(&self) -> super::Placement {
        super::Placement::InVpc
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::InVpcs { always: true }
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
        let Some(mut filters) = scope_filters(scope, Some("vpc-id")) else {
            return Ok(Vec::new());
        };
        filters.push(filter(
            "instance-state-name",
            ["pending", "running", "stopping", "stopped", "shutting-down"],
        ));
        let out = aws
            .ec2
            .describe_instances()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeInstances", "instances", e))?;
        Ok(out
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(observe)
            .collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let InstanceSpec {
            subnet,
            ami,
            launch_template,
            root_volume,
            instance_type,
            security_groups,
            key,
            instance_profile,
            user_data,
        } = crate::resources::spec_of(res)?;
        let id = match existing {
            Some(o) => o.id.clone(),
            None => {
                let mut req = cx.aws.ec2.run_instances();
                match launch_template {
                    // The template's default version gives the image, type, key and storage.
                    Some(t) => {
                        req = req.launch_template(
                            LaunchTemplateSpecification::builder()
                                .launch_template_id(cx.bound.require(t, &res.name)?)
                                .version("$Default")
                                .build(),
                        );
                    }
                    None => {
                        let Some(ami) = ami else {
                            return Err(AwsError::from_fault(
                                "resolve",
                                &res.name,
                                Fault::NotCreated {
                                    name: "ami".to_owned(),
                                },
                            ));
                        };
                        let image = image_id(cx, ami, &res.name).await?;
                        if let Some(v) = root_volume {
                            let device =
                                super::storage::root_device(cx.aws, &image, &res.name).await?;
                            req = req.block_device_mappings(super::storage::instance_mapping(
                                v, &device,
                            ));
                        }
                        req = req
                            .image_id(image)
                            .instance_type(InstanceType::from(instance_type.as_str()));
                    }
                }
                let mut req = req
                    .min_count(1)
                    .max_count(1)
                    .subnet_id(cx.bound.require(subnet, &res.name)?)
                    .tag_specifications(cx.owner.tag_spec(ResourceType::Instance, &res.name))
                    .tag_specifications(cx.owner.tag_spec(ResourceType::Volume, &res.name));
                for sg in security_groups {
                    req = req.security_group_ids(cx.bound.require(sg, &res.name)?);
                }
                if let Some(key) = key {
                    let key_name = match cx.bound.get(key).map(|o| &o.facts) {
                        Some(Facts::KeyPair(KeyPairFacts { key_name })) => key_name.clone(),
                        _ => cx.bound.require(key, &res.name)?.to_owned(),
                    };
                    req = req.key_name(key_name);
                }
                if let Some(script) = user_data {
                    req = req.user_data(aws_smithy_types::base64::encode(script));
                }
                if let Some(profile) = instance_profile {
                    let arn = match cx.bound.get(profile).map(|o| &o.facts) {
                        Some(Facts::InstanceProfile(InstanceProfileFacts { arn, .. })) => {
                            arn.clone()
                        }
                        _ => cx.bound.require(profile, &res.name)?.to_owned(),
                    };
                    req = req.iam_instance_profile(
                        IamInstanceProfileSpecification::builder().arn(arn).build(),
                    );
                }
                // A new instance profile, subnet or group takes a few seconds to reach EC2:
                // RunInstances refuses them meanwhile. The client token keeps an attempt whose
                // answer was lost from launching a second instance.
                let req = req.client_token(cx.owner.client_token(&res.name));
                let out = cx
                    .aws
                    .known("ec2:RunInstances", &res.name, || req.clone().send())
                    .await?;
                out.instances()
                    .first()
                    .and_then(|i| i.instance_id())
                    .ok_or_else(|| {
                        AwsError::from_fault(
                            "ec2:RunInstances",
                            &res.name,
                            Fault::NoId { what: "instance" },
                        )
                    })?
                    .to_owned()
            }
        };
        let last = std::sync::Mutex::new(None);
        let last_ref = &last;
        cx.wait
            .until(&res.name, "running", RUNNING, || async {
                let o = Self::describe_one(cx.aws, &id).await?;
                let st = o.as_ref().map(|o| state(o).to_owned());
                if let Ok(mut l) = last_ref.lock() {
                    *l = o;
                }
                Ok(match st.as_deref() {
                    Some("running") => Poll::Done,
                    Some(other) => Poll::Waiting(other.to_owned()),
                    None => Poll::Waiting("not visible yet".to_owned()),
                })
            })
            .await?;
        last.into_inner().ok().flatten().ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeInstances",
                &res.name,
                Fault::Vanished {
                    while_waiting: true,
                },
            )
        })
    }

    fn attr_keys(&self, res: &Resource) -> Vec<&'static str> {
        let mut keys = vec!["subnet", "instance_type", "security_groups", "state"];
        if let Spec::Instance(spec) = &res.spec {
            if spec.key.is_some() {
                keys.push("key");
            }
            if spec.launch_template.is_some() {
                keys.push("launch_template");
            }
            if matches!(spec.ami, Some(AmiRef::Resource(_))) {
                keys.push("ami");
            }
        }
        keys
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::Instance(InstanceSpec {
                subnet,
                instance_type,
                security_groups,
                key,
                launch_template,
                ami,
                ..
            }),
            Facts::Instance(InstanceFacts {
                subnet_id,
                instance_type: t,
                security_groups: sgs,
                key_name,
                state,
                launch_template: from_template,
                image_id,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let mut want_sgs = security_groups.clone();
        want_sgs.sort();
        let mut found_sgs: Vec<String> = sgs.iter().map(|g| bound.label(g)).collect();
        found_sgs.sort();
        let mut attrs = vec![
            Attr::new(
                "subnet",
                subnet,
                subnet_id
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), |s| bound.label(s)),
            ),
            Attr::new("instance_type", instance_type, t),
            Attr::new("security_groups", want_sgs.join(", "), found_sgs.join(", ")),
            Attr::new("state", "running", state),
        ];
        if let Some(key) = key {
            let want = match bound.get(key).map(|o| &o.facts) {
                Some(Facts::KeyPair(KeyPairFacts { key_name })) => key_name.clone(),
                _ => key.clone(),
            };
            attrs.push(Attr::new(
                "key",
                want,
                key_name.as_deref().unwrap_or("none"),
            ));
        }
        if let Some(template) = launch_template {
            let found = from_template.as_deref().map_or_else(
                || "none (launched without a template)".to_owned(),
                |id| bound.label(id),
            );
            attrs.push(Attr::new("launch_template", template, found));
        }
        if let Some(AmiRef::Resource(image)) = ami {
            let found = image_id
                .as_deref()
                .map_or_else(|| "none".to_owned(), |id| bound.label(id));
            attrs.push(Attr::new("ami", image, found));
        }
        attrs
    }

    fn attr_hint(&self, res: &Resource, attr: &Attr) -> Option<String> {
        Some(match attr.key.as_str() {
            "launch_template" => format!(
                "launch `{}` with \"Launch instance from template\" -> `{}` (version Default): an instance launched from an image directly does not follow the template",
                res.name, attr.expected
            ),
            "ami" => format!(
                "launch `{}` from a template whose default version uses `{}`",
                res.name, attr.expected
            ),
            _ => return None,
        })
    }

    /// An instance of an Auto Scaling group goes with its group (terminated on its own, the
    /// group would launch a replacement).
    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::AutoScalingGroup)
            .filter(|g| matches!(&g.facts, Facts::AutoScalingGroup(AutoScalingGroupFacts { instances, .. }) if instances.iter().any(|i| i.id == obs.id)))
            .map(|g| g.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        if obs.is_gone() {
            return Ok(());
        }
        // A not-found answer does not mean terminated ("Eventual consistency in the Amazon EC2
        // API"): it goes back to the engine, which asks a describe.
        cx.aws
            .ec2
            .terminate_instances()
            .instance_ids(&obs.id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:TerminateInstances", &obs.id, e))?;
        cx.wait
            .until(&obs.id, "terminated", TERMINATED, || async {
                Ok(match Self::describe_one(cx.aws, &obs.id).await? {
                    Some(o) if !o.is_gone() => Poll::Waiting(state(&o).to_owned()),
                    _ => Poll::Done,
                })
            })
            .await
    }

    fn typical(&self) -> Option<&'static str> {
        Some("running in ~30 s")
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{
        GroupIdentifier, Instance, InstanceNetworkInterface, InstanceNetworkInterfaceAttachment,
    };

    use super::observe;
    use crate::resources::{Facts, InstanceFacts};

    fn group(id: &str) -> GroupIdentifier {
        GroupIdentifier::builder().group_id(id).build()
    }

    fn interface(device: i32, groups: &[&str]) -> InstanceNetworkInterface {
        let mut n = InstanceNetworkInterface::builder().attachment(
            InstanceNetworkInterfaceAttachment::builder()
                .device_index(device)
                .build(),
        );
        for g in groups {
            n = n.groups(group(g));
        }
        n.build()
    }

    fn groups_of(i: &Instance) -> Vec<String> {
        match observe(i).map(|o| o.facts) {
            Some(Facts::Instance(InstanceFacts {
                security_groups, ..
            })) => security_groups,
            other => panic!("not an instance: {other:?}"),
        }
    }

    #[test]
    fn groups_of_the_primary_interface_count() {
        // Launched with an explicit interface: the groups only on it.
        let console = Instance::builder()
            .instance_id("i-1")
            .network_interfaces(interface(0, &["sg-bastion"]))
            .build();
        assert_eq!(groups_of(&console), ["sg-bastion"]);
        // Listed in both places: once.
        let both = Instance::builder()
            .instance_id("i-2")
            .security_groups(group("sg-app"))
            .network_interfaces(interface(0, &["sg-app"]))
            .build();
        assert_eq!(groups_of(&both), ["sg-app"]);
        // A secondary interface's groups are not the instance's.
        let secondary = Instance::builder()
            .instance_id("i-3")
            .security_groups(group("sg-app"))
            .network_interfaces(interface(1, &["sg-other"]))
            .build();
        assert_eq!(groups_of(&secondary), ["sg-app"]);
    }
}
