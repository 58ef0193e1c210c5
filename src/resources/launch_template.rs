//! EC2 launch templates: what an Auto Scaling group launches. Tagged at creation; the template's
//! own name is unique per owner (`awslab-<lab>-<env>-<name>`), a hand-built one is found by its
//! name. A changed template gets a new version that becomes the default (the group launches
//! `$Default`), so `up` converges without replacing it. Its image may be the lab's own (an `ami`
//! resource); it may carry a key pair and the root volume's settings.

use crate::check::FoundBy;
use crate::check::Names;
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateIamInstanceProfileSpecificationRequest, RequestLaunchTemplateData,
    ResourceType,
};

use super::storage::{RootVolume, RootVolumeDef};
use crate::lab::AmiRef;
use crate::resources::KeyPairFacts;

use super::ec2util::{filter, scope_filters};
use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::{self, Owner, from_ec2};
use crate::aws::{Aws, AwsError, Fault, created_at, listed};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use crate::resources::{AutoScalingGroupFacts, InstanceProfileFacts};
use toml::Spanned;

/// What an Auto Scaling group launches.
#[derive(Debug, Clone)]
pub struct LaunchTemplateSpec {
    pub ami: crate::lab::AmiRef,
    pub instance_type: String,
    pub security_groups: Vec<String>,
    pub instance_profile: Option<String>,
    pub user_data: Option<String>,
    /// A key pair of the lab.
    pub key: Option<String>,
    pub root_volume: Option<RootVolume>,
}

/// What AWS says of a launch template.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LaunchTemplateFacts {
    /// The template's own name (unique in the region).
    pub name: String,
    /// The default version's data.
    pub version: i64,
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
    pub security_groups: Vec<String>,
    /// The instance profile's ARN or name.
    pub instance_profile: Option<String>,
    /// Decoded.
    pub user_data: Option<String>,
    pub key_name: Option<String>,
    /// The first block device mapping's EBS volume (the root volume a lab declares).
    pub root_volume: Option<RootVolume>,
}

impl crate::resources::KindSpec for LaunchTemplateSpec {
    fn refs(&self) -> Vec<&str> {
        let LaunchTemplateSpec {
            security_groups,
            instance_profile,
            ami,
            key,
            ..
        } = self;
        let mut out: Vec<&str> = Vec::new();
        if let AmiRef::Resource(image) = ami {
            out.push(image);
        }
        out.extend(security_groups.iter().map(String::as_str));
        out.extend(instance_profile.as_deref());
        out.extend(key.as_deref());
        out
    }
}

impl crate::resources::KindFacts for LaunchTemplateFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The keys of a `launch_template` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct LaunchTemplateKeys {
    /// The image: an SSM public parameter (`ssm:/aws/service/...`) or an `ami-` id.
    #[schemars(with = "Option<String>")]
    pub ami: Option<toml::Spanned<String>>,
    /// Instance type (default `t3.micro`).
    #[schemars(with = "Option<String>")]
    pub instance_type: Option<toml::Spanned<String>>,
    /// Security groups of the instances launched from the template.
    #[schemars(with = "Option<Vec<String>>")]
    pub security_groups: Option<Vec<toml::Spanned<String>>>,
    /// The instance profile (an `instance_profile` resource) of the instances.
    #[schemars(with = "Option<String>")]
    pub instance_profile: Option<toml::Spanned<String>>,
    /// A script run at first boot.
    #[schemars(with = "Option<String>")]
    pub user_data: Option<toml::Spanned<String>>,
    /// The key pair (a `key_pair` resource) of the instances launched from the template.
    #[schemars(with = "Option<String>")]
    pub key: Option<toml::Spanned<String>>,
    /// The root volume: `{ size = 8, type = "gp3", encrypted = true }`.
    #[schemars(with = "Option<RootVolumeDef>")]
    pub root_volume: Option<toml::Spanned<RootVolumeDef>>,
}

impl ParseSpec for LaunchTemplateSpec {
    type Keys = LaunchTemplateKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &LaunchTemplateKeys) -> Self {
        let kind = Kind::LaunchTemplate;
        LaunchTemplateSpec {
            ami: cx.ami(name, kind, &d.ami),
            instance_type: cx.instance_type(&d.instance_type),
            security_groups: cx.groups(&d.security_groups),
            instance_profile: d
                .instance_profile
                .as_ref()
                .and_then(|p| cx.reference(p, &[Kind::InstanceProfile])),
            user_data: d.user_data.as_ref().and_then(|u| cx.text(u)),
            key: d
                .key
                .as_ref()
                .and_then(|k| cx.reference(k, &[Kind::KeyPair])),
            root_volume: super::storage::parse(cx, &d.root_volume),
        }
    }
}

pub struct LaunchTemplate;

/// The template name awslab gives an owner's template (unique in the region).
pub fn name_of(owner: &Owner, logical: &str) -> String {
    super::iam::name_of(owner, logical)
}

impl LaunchTemplate {
    /// The default version's data of each template (one call per template: the API describes
    /// the versions of one template at a time).
    async fn observe(
        aws: &Aws,
        t: &aws_sdk_ec2::types::LaunchTemplate,
    ) -> Result<Option<Observed>, AwsError> {
        let (Some(id), Some(name)) = (t.launch_template_id(), t.launch_template_name()) else {
            return Ok(None);
        };
        let mut tags = from_ec2(t.tags());
        // A hand-built template is known by its name.
        tags.entry(tags::NAME.to_owned())
            .or_insert_with(|| name.to_owned());
        // Not visible yet right after its creation, or deleted since the listing.
        let versions = aws
            .follow_up(created_at(t.create_time()), || async {
                aws.ec2
                    .describe_launch_template_versions()
                    .launch_template_id(id)
                    .versions("$Default")
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:DescribeLaunchTemplateVersions", id, e))
            })
            .await?;
        let Some(versions) = versions else {
            return Ok(None);
        };
        let version = versions.launch_template_versions().first();
        let data = version.and_then(|v| v.launch_template_data());
        let mut security_groups: Vec<String> = data
            .map(|d| d.security_group_ids().to_vec())
            .unwrap_or_default();
        // Groups may also sit on the template's network interface.
        if let Some(d) = data {
            for ni in d.network_interfaces() {
                security_groups.extend(ni.groups().iter().cloned());
            }
        }
        let root_volume = data
            .and_then(|d| d.block_device_mappings().first())
            .and_then(|m| m.ebs())
            .map(|ebs| RootVolume {
                size: ebs.volume_size(),
                volume_type: ebs
                    .volume_type()
                    .map_or_else(|| "gp3".to_owned(), |t| t.as_str().to_owned()),
                encrypted: ebs.encrypted().unwrap_or(false),
            });
        let user_data = data.and_then(|d| d.user_data()).map(|u| {
            aws_smithy_types::base64::decode(u)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| u.to_owned())
        });
        Ok(Some(Observed {
            kind: Kind::LaunchTemplate,
            id: id.to_owned(),
            tags,
            facts: Facts::LaunchTemplate(LaunchTemplateFacts {
                name: name.to_owned(),
                version: version.and_then(|v| v.version_number()).unwrap_or(1),
                image_id: data.and_then(|d| d.image_id()).map(str::to_owned),
                instance_type: data
                    .and_then(|d| d.instance_type())
                    .map(|t| t.as_str().to_owned()),
                security_groups,
                instance_profile: data
                    .and_then(|d| d.iam_instance_profile())
                    .and_then(|p| p.arn().or(p.name()))
                    .map(str::to_owned),
                user_data,
                key_name: data.and_then(|d| d.key_name()).map(str::to_owned),
                root_volume,
            }),
        }))
    }

    async fn data(cx: &ApplyCx<'_>, res: &Resource) -> Result<RequestLaunchTemplateData, AwsError> {
        let LaunchTemplateSpec {
            ami,
            instance_type,
            security_groups,
            instance_profile,
            user_data,
            key,
            root_volume,
        } = crate::resources::spec_of(res)?;
        let image = super::instance::image_id(cx, ami, &res.name).await?;
        let mut data = RequestLaunchTemplateData::builder()
            .instance_type(InstanceType::from(instance_type.as_str()));
        if let Some(v) = root_volume {
            // The root device is the image's: the lab's own image knows it, any other is asked.
            let device = match cx.bound.get(match ami {
                AmiRef::Resource(name) => name.as_str(),
                _ => "",
            }) {
                Some(Observed {
                    facts:
                        Facts::Ami(crate::resources::AmiFacts {
                            root_device: Some(d),
                            ..
                        }),
                    ..
                }) => d.clone(),
                _ => super::storage::root_device(cx.aws, &image, &res.name).await?,
            };
            data = data.block_device_mappings(super::storage::template_mapping(v, &device));
        }
        data = data.image_id(image);
        if let Some(key) = key {
            let key_name = match cx.bound.get(key).map(|o| &o.facts) {
                Some(Facts::KeyPair(KeyPairFacts { key_name })) => key_name.clone(),
                _ => cx.bound.require(key, &res.name)?.to_owned(),
            };
            data = data.key_name(key_name);
        }
        for sg in security_groups {
            data = data.security_group_ids(cx.bound.require(sg, &res.name)?);
        }
        if let Some(script) = user_data {
            data = data.user_data(aws_smithy_types::base64::encode(script));
        }
        if let Some(profile) = instance_profile {
            let arn = match cx.bound.get(profile).map(|o| &o.facts) {
                Some(Facts::InstanceProfile(InstanceProfileFacts { arn, .. })) => arn.clone(),
                _ => cx.bound.require(profile, &res.name)?.to_owned(),
            };
            data = data.iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .arn(arn)
                    .build(),
            );
        }
        Ok(data.build())
    }

    async fn describe(aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let out = aws
            .ec2
            .describe_launch_templates()
            .launch_template_ids(id)
            .send()
            .await;
        match out {
            Ok(out) => match out.launch_templates().first() {
                Some(t) => Self::observe(aws, t).await,
                None => Ok(None),
            },
            Err(e) => {
                let e = AwsError::from_sdk("ec2:DescribeLaunchTemplates", id, e);
                if e.is_gone() { Ok(None) } else { Err(e) }
            }
        }
    }
}

#[async_trait]
impl ResourceKind for LaunchTemplate {
    fn kind(&self) -> Kind {
        Kind::LaunchTemplate
    }

    fn placement(&self) -> super::Placement {
        super::Placement::Regional
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::Named
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
            // Templates live in no VPC.
            Scope::InVpcs(_) => return Ok(Vec::new()),
            Scope::Named(names) if names.is_empty() => return Ok(Vec::new()),
            Scope::Named(names) => vec![filter("launch-template-name", names.iter().cloned())],
            other => match scope_filters(other, None) {
                Some(f) => f,
                None => return Ok(Vec::new()),
            },
        };
        let templates = aws
            .ec2
            .describe_launch_templates()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| {
                AwsError::from_sdk("ec2:DescribeLaunchTemplates", "launch templates", e)
            })?;
        let mut out = Vec::new();
        for t in &templates {
            if let Some(o) = Self::observe(aws, t).await? {
                // A name match that awslab made for another lab or env is not a hand-built one.
                if matches!(scope, Scope::Named(_)) && o.tags.contains_key(tags::LAB) {
                    continue;
                }
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let data = Self::data(cx, res).await?;
        let id = match existing {
            None => {
                let name = name_of(cx.owner, &res.name);
                // The client token makes a retried create (an answer lost) return the same
                // template instead of failing on the name; it is new in every run, so a token
                // AWS has seen never returns a template deleted since.
                let created = cx
                    .aws
                    .ec2
                    .create_launch_template()
                    .launch_template_name(&name)
                    .client_token(cx.owner.client_token(&res.name))
                    .launch_template_data(data)
                    .tag_specifications(cx.owner.tag_spec(ResourceType::LaunchTemplate, &res.name))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:CreateLaunchTemplate", &res.name, e));
                let out = match created {
                    Ok(out) => out,
                    // Made by an earlier run: carry on with it (the next `up` compares it and
                    // adds a version if it differs).
                    Err(e) if e.aws_code().is_some_and(|c| c.contains("AlreadyExists")) => {
                        let found = cx
                            .aws
                            .ec2
                            .describe_launch_templates()
                            .launch_template_names(&name)
                            .send()
                            .await
                            .map_err(|e| {
                                AwsError::from_sdk("ec2:DescribeLaunchTemplates", &name, e)
                            })?;
                        let template = found.launch_templates().first().ok_or(e)?;
                        // The name carries the owner's code; still, only this owner's is taken.
                        if !cx.owner.owns(&from_ec2(template.tags())) {
                            return Err(AwsError::from_fault(
                                "ec2:CreateLaunchTemplate",
                                &res.name,
                                Fault::NotOurs {
                                    what: "a launch template",
                                    name: name.clone(),
                                },
                            ));
                        }
                        let id = template.launch_template_id().unwrap_or_default().to_owned();
                        return Self::describe(cx.aws, &id).await?.ok_or_else(|| {
                            AwsError::from_fault(
                                "ec2:DescribeLaunchTemplates",
                                &res.name,
                                Fault::Vanished {
                                    while_waiting: false,
                                },
                            )
                        });
                    }
                    Err(e) => return Err(e),
                };
                out.launch_template()
                    .and_then(|t| t.launch_template_id())
                    .ok_or_else(|| {
                        AwsError::from_fault(
                            "ec2:CreateLaunchTemplate",
                            &res.name,
                            Fault::NoId { what: "template" },
                        )
                    })?
                    .to_owned()
            }
            Some(o) => {
                // Out of date: a new version, made the default.
                let out = cx
                    .aws
                    .known("ec2:CreateLaunchTemplateVersion", &res.name, || {
                        cx.aws
                            .ec2
                            .create_launch_template_version()
                            .launch_template_id(&o.id)
                            .launch_template_data(data.clone())
                            .send()
                    })
                    .await?;
                let version = out
                    .launch_template_version()
                    .and_then(|v| v.version_number())
                    .unwrap_or(1);
                cx.aws
                    .known("ec2:ModifyLaunchTemplate", &res.name, || {
                        cx.aws
                            .ec2
                            .modify_launch_template()
                            .launch_template_id(&o.id)
                            .default_version(version.to_string())
                            .send()
                    })
                    .await?;
                o.id.clone()
            }
        };
        cx.aws
            .settle(|| async {
                listed(
                    Self::describe(cx.aws, &id).await?,
                    "ec2:DescribeLaunchTemplates",
                    &res.name,
                )
            })
            .await
    }

    fn attr_keys(&self, res: &Resource) -> Vec<&'static str> {
        let mut keys = vec!["instance_type", "security_groups", "user_data"];
        if let Spec::LaunchTemplate(spec) = &res.spec {
            if matches!(spec.ami, AmiRef::Resource(_)) {
                keys.push("ami");
            }
            if spec.key.is_some() {
                keys.push("key");
            }
            if spec.root_volume.is_some() {
                keys.push("root_volume");
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
            Spec::LaunchTemplate(LaunchTemplateSpec {
                instance_type,
                security_groups,
                user_data,
                ami,
                key,
                root_volume,
                ..
            }),
            Facts::LaunchTemplate(LaunchTemplateFacts {
                instance_type: t,
                security_groups: sgs,
                user_data: found_data,
                image_id,
                key_name,
                root_volume: found_volume,
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
        found_sgs.dedup();
        // A student writes their own script: what matters is that there is one.
        let script = |s: &Option<String>| {
            if s.as_deref().is_some_and(|s| !s.trim().is_empty()) {
                "a script"
            } else {
                "none"
            }
        };
        let mut attrs = vec![
            Attr::new(
                "instance_type",
                instance_type,
                t.as_deref().unwrap_or("none"),
            ),
            Attr::new("security_groups", want_sgs.join(", "), found_sgs.join(", ")),
            Attr::new("user_data", script(user_data), script(found_data)),
        ];
        // The default version's image: the lab's own, not the stock image it was built from.
        if let AmiRef::Resource(image) = ami {
            let found = image_id.as_deref().map_or_else(
                || "none".to_owned(),
                |id| match bound.name_of(id) {
                    Some(name) => name.to_owned(),
                    None => format!("{id} (not {image})"),
                },
            );
            attrs.push(Attr::new("ami", image, found));
        }
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
        if let Some(v) = root_volume {
            let found = found_volume
                .as_ref()
                .map_or_else(|| "none".to_owned(), ToString::to_string);
            attrs.push(Attr::new("root_volume", v, found));
        }
        attrs
    }

    fn attr_hint(&self, res: &Resource, attr: &Attr) -> Option<String> {
        (attr.key == "ami").then(|| {
            format!(
                "make `{}`'s default version launch the image `{}` (My AMIs), not the stock one: create a new version with it and set it as the default",
                res.name, attr.expected
            )
        })
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        // A group launching from it must go first.
        world
            .of_kind(Kind::AutoScalingGroup)
            .filter(|g| matches!(&g.facts, Facts::AutoScalingGroup(AutoScalingGroupFacts { launch_template: Some(t), .. }) if *t == obs.id))
            .map(|g| g.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.aws
            .ec2
            .delete_launch_template()
            .launch_template_id(&obs.id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DeleteLaunchTemplate", &obs.id, e))
            .map(drop)
    }

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        let Facts::LaunchTemplate(f) = &o.facts else {
            return None;
        };
        crate::resources::named_as(o, res, names, "launch template name", &f.name)
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
