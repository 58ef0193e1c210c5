//! The group: created with its tags, waited for until its instances are in service, drained
//! before delete.

use super::*;
use crate::check::FoundBy;
use crate::check::Names;
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::quota::Quota;
use crate::resources::SpecOf;
use crate::resources::{LaunchTemplateSpec, ScalingPolicyFacts};
use toml::Spanned;

/// What a lab file declares for an Auto Scaling group.
#[derive(Debug, Clone)]
pub struct AutoScalingGroupSpec {
    pub launch_template: String,
    pub subnets: Vec<String>,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    pub target_groups: Vec<String>,
    /// `EC2` or `ELB`.
    pub health_check_type: String,
}

/// What AWS says of an Auto Scaling group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AutoScalingGroupFacts {
    /// The VPC of its subnets.
    pub vpc_id: Option<String>,
    pub subnets: Vec<String>,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    pub target_groups: Vec<String>,
    pub health_check_type: String,
    pub launch_template: Option<String>,
    pub instances: Vec<crate::resources::GroupInstance>,
    /// `Delete in progress` while going.
    pub status: Option<String>,
}

impl crate::resources::KindSpec for AutoScalingGroupSpec {
    fn refs(&self) -> Vec<&str> {
        let AutoScalingGroupSpec {
            launch_template,
            subnets,
            target_groups,
            ..
        } = self;
        let mut out = vec![launch_template.as_str()];
        out.extend(subnets.iter().map(String::as_str));
        out.extend(target_groups.iter().map(String::as_str));
        out
    }
}

impl crate::resources::KindFacts for AutoScalingGroupFacts {
    fn target_groups(&self) -> Vec<&str> {
        self.target_groups.iter().map(String::as_str).collect()
    }

    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let AutoScalingGroupFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }

    fn subnet_ids(&self) -> Vec<&str> {
        let AutoScalingGroupFacts { subnets, .. } = self;
        subnets.iter().map(String::as_str).collect()
    }
}

/// The keys of an `auto_scaling_group` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct AutoScalingGroupKeys {
    /// The launch template (a `launch_template` resource) instances are launched from.
    #[schemars(with = "Option<String>")]
    pub launch_template: Option<toml::Spanned<String>>,
    /// Subnets the group launches instances in.
    #[schemars(with = "Option<Vec<String>>")]
    pub subnets: Option<Vec<toml::Spanned<String>>>,
    /// Fewest instances (default 1).
    #[schemars(with = "Option<i64>")]
    pub min_size: Option<toml::Spanned<i64>>,
    /// Most instances.
    #[schemars(with = "Option<i64>")]
    pub max_size: Option<toml::Spanned<i64>>,
    /// Instances wanted now, between `min_size` and `max_size`.
    #[schemars(with = "Option<i64>")]
    pub desired_capacity: Option<toml::Spanned<i64>>,
    /// Target groups the instances are registered with.
    #[schemars(with = "Option<Vec<String>>")]
    pub target_groups: Option<Vec<toml::Spanned<String>>>,
    /// `EC2` or `ELB`.
    #[schemars(with = "Option<String>")]
    pub health_check_type: Option<toml::Spanned<String>>,
}

impl ParseSpec for AutoScalingGroupSpec {
    type Keys = AutoScalingGroupKeys;

    fn parse(
        cx: &mut SpecCx<'_, '_, '_>,
        name: &Spanned<String>,
        d: &AutoScalingGroupKeys,
    ) -> Self {
        let kind = Kind::AutoScalingGroup;
        let subnets = cx.subnet_refs(&d.subnets);
        let lt = cx
            .required(name, kind, "launch_template", &d.launch_template)
            .cloned();
        if subnets.is_empty() {
            cx.error(
                name.span(),
                format!("Auto Scaling group `{}` needs `subnets`", name.get_ref()),
                "missing key",
            );
        }
        let size = |v: &mut SpecCx<'_, '_, '_>,
                    key: &str,
                    s: &Option<Spanned<i64>>,
                    default: i64|
         -> i32 {
            match s {
                None => i32::try_from(default).unwrap_or(0),
                Some(n) => match i32::try_from(*n.get_ref()) {
                    Ok(x) if x >= 0 => x,
                    _ => {
                        v.error(
                            n.span(),
                            format!("{key} {} must be 0 or more", n.get_ref()),
                            "invalid size",
                        );
                        0
                    }
                },
            }
        };
        let min_size = size(cx, "min_size", &d.min_size, 1);
        let max_size = size(cx, "max_size", &d.max_size, i64::from(min_size.max(1)));
        let desired_capacity = size(
            cx,
            "desired_capacity",
            &d.desired_capacity,
            i64::from(min_size),
        );
        if !(min_size <= desired_capacity && desired_capacity <= max_size) {
            let span = d
                .desired_capacity
                .as_ref()
                .or(d.max_size.as_ref())
                .map_or(name.span(), Spanned::span);
            cx.error(
                span,
                format!(
                    "sizes must satisfy min_size <= desired_capacity <= max_size (here {min_size} <= {desired_capacity} <= {max_size})"
                ),
                "inconsistent sizes",
            );
        }
        let health_check_type = match &d.health_check_type {
            None => "EC2".to_owned(),
            Some(h) => match h.get_ref().to_ascii_uppercase().as_str() {
                t @ ("EC2" | "ELB") => t.to_owned(),
                other => {
                    cx.error(
                        h.span(),
                        format!("health_check_type `{other}` must be EC2 or ELB"),
                        "invalid health check type",
                    );
                    "EC2".to_owned()
                }
            },
        };
        AutoScalingGroupSpec {
            launch_template: lt
                .and_then(|l| cx.reference(&l, &[Kind::LaunchTemplate]))
                .unwrap_or_default(),
            subnets,
            min_size,
            max_size,
            desired_capacity,
            target_groups: d
                .target_groups
                .iter()
                .flatten()
                .filter_map(|t| cx.reference(t, &[Kind::TargetGroup]))
                .collect(),
            health_check_type,
        }
    }
}

pub struct AutoScalingGroup;

impl AutoScalingGroup {
    async fn describe(aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        Ok(groups(aws, &[name.to_owned()]).await?.into_iter().next())
    }

    fn in_service(o: &Observed) -> usize {
        match &o.facts {
            Facts::AutoScalingGroup(AutoScalingGroupFacts { instances, .. }) => instances
                .iter()
                .filter(|i| i.lifecycle == "InService")
                .count(),
            _ => 0,
        }
    }
}

#[async_trait]
impl ResourceKind for AutoScalingGroup {
    fn kind(&self) -> Kind {
        Kind::AutoScalingGroup
    }

    /// One group, and the vCPUs of as many instances of its launch template's type as its
    /// maximum size lets it run.
    fn quota_needs(&self, res: &Resource, lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        let mut needs = vec![(Quota::AutoScalingGroups, 1)];
        let Some(spec) = AutoScalingGroupSpec::of(&res.spec) else {
            return needs;
        };
        let vcpus = lab
            .resource(&spec.launch_template)
            .and_then(|lt| LaunchTemplateSpec::of(&lt.spec))
            .and_then(|lt| crate::resources::instance::standard_vcpus(&lt.instance_type));
        if let Some(vcpus) = vcpus {
            let max = u32::try_from(spec.max_size).unwrap_or(0);
            needs.push((Quota::OnDemandStandardVcpus, max.saturating_mul(vcpus)));
        }
        needs
    }

    /// What the group keeps running: `desired_capacity` instances of its template. (Its
    /// instances, once up, are priced as instances.)
    fn price(&self, res: &Resource, lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        let Spec::AutoScalingGroup(AutoScalingGroupSpec {
            launch_template,
            subnets,
            desired_capacity,
            ..
        }) = &res.spec
        else {
            return;
        };
        let itype = lab.resources.iter().find_map(|t| match &t.spec {
            Spec::LaunchTemplate(LaunchTemplateSpec { instance_type, .. })
                if t.name == *launch_template =>
            {
                Some(instance_type.as_str())
            }
            _ => None,
        });
        let public = subnets
            .iter()
            .any(|s| crate::resources::subnet::maps_public_ip(lab, s));
        for i in 0..*desired_capacity {
            e.instance(
                &format!("{} #{}", res.name, i + 1),
                itype.unwrap_or("unknown"),
                public,
            );
        }
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::InVpc
    }

    /// Only when the lab has one: most labs do not.
    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::InVpcs { always: false }
    }

    async fn stamp(
        &self,
        aws: &Aws,
        obs: &Observed,
        key: &str,
        value: &str,
    ) -> Result<crate::resources::Stamped, AwsError> {
        aws.known("autoscaling:CreateOrUpdateTags", &obs.id, || {
            aws.autoscaling
                .create_or_update_tags()
                .tags(
                    aws_sdk_autoscaling::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .propagate_at_launch(true)
                        .resource_id(&obs.id)
                        .resource_type("auto-scaling-group")
                        .build(),
                )
                .send()
        })
        .await?;
        // Its instances keep the tags they launched with: those running get the stamp too. The
        // group replaces instances on its own, so one gone since the listing is skipped.
        let members = running_instances(aws, obs).await?;
        let tag_ec2 = |ids: Vec<String>| {
            aws.ec2
                .create_tags()
                .set_resources(Some(ids))
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build(),
                )
                .send()
        };
        for chunk in members.chunks(1000) {
            let what = format!("{} instances ({}, ...)", chunk.len(), chunk[0]);
            let Err(e) = tag_ec2(chunk.to_vec()).await else {
                continue;
            };
            let e = AwsError::from_sdk("ec2:CreateTags", &what, e);
            if !e.is_gone() {
                return Err(e);
            }
            for id in chunk {
                if let Err(e) = tag_ec2(vec![id.clone()]).await {
                    let e = AwsError::from_sdk("ec2:CreateTags", id, e);
                    if !e.is_gone() {
                        return Err(e);
                    }
                }
            }
        }
        Ok(crate::resources::Stamped::Done)
    }

    /// The groups in scope and their scaling policies.
    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let found = match scope {
            Scope::Named(names) | Scope::InVpcs(names) if names.is_empty() => return Ok(Vec::new()),
            // Hand-built ones, by name: the API takes names (unknown ones are left out).
            Scope::Named(names) => groups(aws, names)
                .await?
                .into_iter()
                .filter(|g| !g.tags.contains_key(tags::LAB))
                .collect(),
            Scope::InVpcs(ids) => groups(aws, &[])
                .await?
                .into_iter()
                .filter(|g| g.vpc_id().is_some_and(|v| ids.iter().any(|i| i == v)))
                .collect(),
            Scope::Owned(owner) => groups(aws, &[])
                .await?
                .into_iter()
                .filter(|g| owner.owns(&g.tags))
                .collect(),
            Scope::Owners(owners) => groups(aws, &[])
                .await?
                .into_iter()
                .filter(|g| Scope::any_owns(owners, &g.tags))
                .collect(),
            Scope::AnyLab => groups(aws, &[])
                .await?
                .into_iter()
                .filter(|g| g.tags.contains_key(tags::LAB))
                .collect(),
            Scope::Region => groups(aws, &[]).await?,
        };
        let found: Vec<Observed> = found.into_iter().filter(|g| !deleting(g)).collect();
        let policies = policies(aws, &found).await?;
        Ok(found.into_iter().chain(policies).collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let AutoScalingGroupSpec {
            launch_template,
            subnets,
            min_size,
            max_size,
            desired_capacity,
            target_groups,
            health_check_type,
        } = crate::resources::spec_of(res)?;
        let subnet_ids = subnets
            .iter()
            .map(|s| cx.bound.require(s, &res.name).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let tg_arns = target_groups
            .iter()
            .map(|t| cx.bound.require(t, &res.name).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let template = LaunchTemplateSpecification::builder()
            .launch_template_id(cx.bound.require(launch_template, &res.name)?)
            .version("$Default")
            .build();
        let name = match existing {
            Some(o) => {
                let Facts::AutoScalingGroup(AutoScalingGroupFacts {
                    target_groups: found_tgs,
                    ..
                }) = &o.facts
                else {
                    return Err(crate::resources::wrong_spec(res, self.kind()));
                };
                let req = cx
                    .aws
                    .autoscaling
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(&o.id)
                    .launch_template(template)
                    .min_size(*min_size)
                    .max_size(*max_size)
                    // Not the desired capacity: scaling moves it, and AWS keeps it within
                    // the new minimum and maximum.
                    .vpc_zone_identifier(subnet_ids.join(","))
                    .health_check_type(health_check_type);
                cx.aws
                    .known("autoscaling:UpdateAutoScalingGroup", &res.name, || {
                        req.clone().send()
                    })
                    .await?;
                let missing: Vec<String> = tg_arns
                    .iter()
                    .filter(|a| !found_tgs.contains(a))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    let req = cx
                        .aws
                        .autoscaling
                        .attach_load_balancer_target_groups()
                        .auto_scaling_group_name(&o.id)
                        .set_target_group_arns(Some(missing));
                    cx.aws
                        .known(
                            "autoscaling:AttachLoadBalancerTargetGroups",
                            &res.name,
                            || req.clone().send(),
                        )
                        .await?;
                }
                o.id.clone()
            }
            None => {
                let name = name_of(cx.owner, &res.name);
                let tags: Vec<Tag> = cx
                    .owner
                    .tags_for(&res.name)
                    .into_iter()
                    .map(|(k, v)| {
                        Tag::builder()
                            .key(k)
                            .value(v)
                            .propagate_at_launch(true)
                            .resource_id(&name)
                            .resource_type("auto-scaling-group")
                            .build()
                    })
                    .collect();
                let req = cx
                    .aws
                    .autoscaling
                    .create_auto_scaling_group()
                    .auto_scaling_group_name(&name)
                    .launch_template(template)
                    .min_size(*min_size)
                    .max_size(*max_size)
                    .desired_capacity(*desired_capacity)
                    .vpc_zone_identifier(subnet_ids.join(","))
                    .set_target_group_arns(Some(tg_arns))
                    .health_check_type(health_check_type)
                    .health_check_grace_period(300)
                    .set_tags(Some(tags));
                // A new launch template, target group or instance profile can be unknown to
                // Auto Scaling for a while: asked again.
                let created = cx
                    .aws
                    .known("autoscaling:CreateAutoScalingGroup", &res.name, || {
                        req.clone().send()
                    })
                    .await;
                match created {
                    Ok(_) => {}
                    Err(e) if e.aws_code() == Some("AlreadyExists") => {
                        let group = Self::describe(cx.aws, &name).await?;
                        match group {
                            // A `down` cut short left it deleting: wait it out, then create.
                            Some(g) if deleting(&g) => {
                                cx.wait
                                    .until(&res.name, "deleted", DELETED, || async {
                                        Ok(match Self::describe(cx.aws, &name).await? {
                                            Some(_) => Poll::Waiting("deleting".to_owned()),
                                            None => Poll::Done,
                                        })
                                    })
                                    .await?;
                                cx.aws
                                    .known("autoscaling:CreateAutoScalingGroup", &res.name, || {
                                        req.clone().send()
                                    })
                                    .await?;
                            }
                            // Created by an earlier call whose answer was lost: carry on with it.
                            Some(g) if cx.owner.owns(&g.tags) => {
                                cx.wait.note(format!("{name} exists already, adopting it"));
                            }
                            _ => {
                                return Err(AwsError::from_fault(
                                    "autoscaling:CreateAutoScalingGroup",
                                    &res.name,
                                    Fault::NotOurs {
                                        what: "an Auto Scaling group",
                                        name: name.clone(),
                                    },
                                ));
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
                name
            }
        };
        // A new group waits for its desired capacity; an existing one for its minimum.
        let want = usize::try_from(if existing.is_some() {
            *min_size
        } else {
            *desired_capacity
        })
        .unwrap_or(0);
        let last = std::sync::Mutex::new(None);
        let last_ref = &last;
        cx.wait
            .until(
                &res.name,
                &format!("{want} instances in service"),
                IN_SERVICE,
                || async {
                    let o = Self::describe(cx.aws, &name).await?;
                    let now = o.as_ref().map(Self::in_service);
                    if let Ok(mut l) = last_ref.lock() {
                        *l = o;
                    }
                    Ok(match now {
                        Some(n) if n >= want => Poll::Done,
                        Some(n) => Poll::Waiting(format!("{n} of {want} in service")),
                        None => Poll::Waiting("not visible yet".to_owned()),
                    })
                },
            )
            .await?;
        last.into_inner().ok().flatten().ok_or_else(|| {
            AwsError::from_fault(
                "autoscaling:DescribeAutoScalingGroups",
                &res.name,
                Fault::Vanished {
                    while_waiting: true,
                },
            )
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec![
            "launch_template",
            "subnets",
            "size",
            "target_groups",
            "health_check_type",
        ]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::AutoScalingGroup(AutoScalingGroupSpec {
                launch_template,
                subnets,
                min_size,
                max_size,
                desired_capacity: _,
                target_groups,
                health_check_type,
            }),
            Facts::AutoScalingGroup(AutoScalingGroupFacts {
                subnets: found_subnets,
                min_size: fmin,
                max_size: fmax,
                desired_capacity: fdesired,
                target_groups: found_tgs,
                health_check_type: fhealth,
                launch_template: flt,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v.dedup();
            v.join(", ")
        };
        vec![
            Attr::new(
                "launch_template",
                launch_template,
                flt.as_deref()
                    .map_or_else(|| "none".to_owned(), |t| bound.label(t)),
            ),
            Attr::new(
                "subnets",
                sorted(subnets.clone()),
                sorted(found_subnets.iter().map(|s| bound.label(s)).collect()),
            ),
            // The desired capacity is where the group starts; scaling moves it within the
            // bounds, so the bounds are what is graded.
            Attr::new(
                "size",
                format!("min {min_size} / max {max_size}"),
                if fdesired < fmin || fdesired > fmax {
                    format!("min {fmin} / max {fmax} (desired {fdesired} outside)")
                } else {
                    format!("min {fmin} / max {fmax}")
                },
            ),
            Attr::new(
                "target_groups",
                sorted(target_groups.clone()),
                sorted(found_tgs.iter().map(|t| bound.label(t)).collect()),
            ),
            // A list (`ELB,EBS`): the lab's type must be among them.
            Attr::new(
                "health_check_type",
                health_check_type,
                if fhealth.split(',').any(|t| t.trim() == health_check_type) {
                    health_check_type.clone()
                } else {
                    fhealth.clone()
                },
            ),
        ]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::ScalingPolicy)
            .filter(|p| matches!(&p.facts, Facts::ScalingPolicy(ScalingPolicyFacts { group, .. }) if *group == obs.id))
            .map(|p| p.id.clone())
            .collect()
    }

    /// Drains the group (no instance outlives it), then deletes it and waits until it is gone.
    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&obs.id)
            .min_size(0)
            .desired_capacity(0)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("autoscaling:UpdateAutoScalingGroup", &obs.id, e))?;
        // Drained, its instances deregister from the target groups and terminate. Scale-in
        // protection, a termination hook or a warm pool can keep one: after a while the group
        // is deleted with force, which terminates what is left.
        let drain = Waiter {
            timeout: cx.wait.timeout.min(DRAIN_WAIT),
            ..cx.wait
        };
        let drained = drain
            .until(&obs.id, "drained", DRAINED, || async {
                Ok(match Self::describe(cx.aws, &obs.id).await? {
                    Some(Observed {
                        facts: Facts::AutoScalingGroup(AutoScalingGroupFacts { instances, .. }),
                        ..
                    }) if !instances.is_empty() => {
                        Poll::Waiting(format!("{} instances left", instances.len()))
                    }
                    _ => Poll::Done,
                })
            })
            .await;
        let force = match drained {
            Ok(()) => false,
            Err(e) if matches!(e.fault(), Some(Fault::WaitTimeout { .. })) => {
                cx.wait.note(format!(
                    "instances still there after {} s: deleting with force",
                    drain.timeout.as_secs()
                ));
                true
            }
            Err(e) => return Err(e),
        };
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .autoscaling
                    .delete_auto_scaling_group()
                    .auto_scaling_group_name(&obs.id)
                    .force_delete(force)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| {
                        AwsError::from_sdk("autoscaling:DeleteAutoScalingGroup", &obs.id, e)
                    })
            })
            .await?;
        cx.wait
            .until(&obs.id, "deleted", DELETED, || async {
                Ok(match Self::describe(cx.aws, &obs.id).await? {
                    Some(g) => Poll::Waiting(match &g.facts {
                        Facts::AutoScalingGroup(AutoScalingGroupFacts {
                            status: Some(status),
                            ..
                        }) => status.clone(),
                        _ => "deleting".to_owned(),
                    }),
                    None => Poll::Done,
                })
            })
            .await
    }

    fn typical(&self) -> Option<&'static str> {
        Some("instances in service in ~1-2 min")
    }

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        crate::resources::named_as(o, res, names, "Auto Scaling group name", &o.id)
    }

    /// Its instances are priced as instances.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
