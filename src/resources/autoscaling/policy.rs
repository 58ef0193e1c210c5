//! Target-tracking scaling policies, known by their group.

use super::*;
use crate::check::Names;
use crate::lab::Lab;
use crate::lab::validate::{ParseSpec, SpecCx};
use toml::Spanned;

/// A target-tracking policy on the group's average CPU utilization.
#[derive(Debug, Clone)]
pub struct ScalingPolicySpec {
    pub group: String,
    pub target_cpu: f64,
}

/// What AWS says of a scaling policy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScalingPolicyFacts {
    pub group: String,
    pub name: String,
    pub policy_type: String,
    pub metric: Option<String>,
    pub target: Option<f64>,
}

impl crate::resources::KindSpec for ScalingPolicySpec {
    fn refs(&self) -> Vec<&str> {
        let ScalingPolicySpec { group, .. } = self;
        vec![group.as_str()]
    }
}

impl crate::resources::KindFacts for ScalingPolicyFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The keys of a `scaling_policy` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct ScalingPolicyKeys {
    /// The Auto Scaling group the policy scales.
    #[schemars(with = "Option<String>")]
    pub auto_scaling_group: Option<toml::Spanned<String>>,
    /// Average CPU utilisation (percent) the target-tracking policy keeps the group at.
    #[schemars(with = "Option<f64>")]
    pub target_cpu: Option<toml::Spanned<f64>>,
}

impl ParseSpec for ScalingPolicySpec {
    type Keys = ScalingPolicyKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &ScalingPolicyKeys) -> Self {
        let kind = Kind::ScalingPolicy;
        let group = cx
            .required(name, kind, "auto_scaling_group", &d.auto_scaling_group)
            .cloned();
        let target_cpu = match &d.target_cpu {
            None => 50.0,
            Some(t) if *t.get_ref() > 0.0 && *t.get_ref() <= 100.0 => *t.get_ref(),
            Some(t) => {
                cx.error(
                    t.span(),
                    format!("target_cpu {} is not a percentage in (0, 100]", t.get_ref()),
                    "invalid target",
                );
                50.0
            }
        };
        ScalingPolicySpec {
            group: group
                .and_then(|g| cx.reference(&g, &[Kind::AutoScalingGroup]))
                .unwrap_or_default(),
            target_cpu,
        }
    }
}

pub struct ScalingPolicy;

#[async_trait]
impl ResourceKind for ScalingPolicy {
    fn kind(&self) -> Kind {
        Kind::ScalingPolicy
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Child(Kind::AutoScalingGroup)
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::WithParent
    }

    async fn stamp(
        &self,
        _aws: &Aws,
        _obs: &Observed,
        _key: &str,
        _value: &str,
    ) -> Result<crate::resources::Stamped, AwsError> {
        Ok(crate::resources::Stamped::WithParent)
    }

    /// Listed with their groups.
    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let ScalingPolicySpec { group, target_cpu } = crate::resources::spec_of(res)?;
        let group_name = cx.bound.require(group, &res.name)?;
        // `PutScalingPolicy` creates or replaces: the existing policy keeps its name.
        let name = match existing.map(|o| &o.facts) {
            Some(Facts::ScalingPolicy(ScalingPolicyFacts { name, .. })) => name.clone(),
            _ => policy_name(cx.owner, &res.name),
        };
        let req = cx
            .aws
            .autoscaling
            .put_scaling_policy()
            .auto_scaling_group_name(group_name)
            .policy_name(&name)
            .policy_type("TargetTrackingScaling")
            .target_tracking_configuration(
                TargetTrackingConfiguration::builder()
                    .predefined_metric_specification(
                        PredefinedMetricSpecification::builder()
                            .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
                            .build(),
                    )
                    .target_value(*target_cpu)
                    .build(),
            );
        let out = cx
            .aws
            .known("autoscaling:PutScalingPolicy", &res.name, || {
                req.clone().send()
            })
            .await?;
        Ok(Observed {
            kind: Kind::ScalingPolicy,
            id: out.policy_arn().unwrap_or(&name).to_owned(),
            tags: cx.owner.child_tags(&name),
            facts: Facts::ScalingPolicy(ScalingPolicyFacts {
                group: group_name.to_owned(),
                name,
                policy_type: "TargetTrackingScaling".to_owned(),
                metric: Some(MetricType::AsgAverageCpuUtilization.as_str().to_owned()),
                target: Some(*target_cpu),
            }),
        })
    }

    /// Known by group: the target-tracking policy of the bound group (a student names theirs
    /// freely).
    fn find_existing<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<&'w Observed> {
        let Spec::ScalingPolicy(ScalingPolicySpec { group, .. }) = &res.spec else {
            return None;
        };
        let group_id = bound.id(group)?;
        let of_group = || {
            world.of_kind(Kind::ScalingPolicy).filter(
                move |p| matches!(&p.facts, Facts::ScalingPolicy(ScalingPolicyFacts { group: g, .. }) if g == group_id),
            )
        };
        let mine = policy_name(owner, &res.name);
        of_group()
            .find(|p| matches!(&p.facts, Facts::ScalingPolicy(ScalingPolicyFacts { name, .. }) if *name == mine))
            .or_else(|| {
                of_group().find(|p| matches!(&p.facts, Facts::ScalingPolicy(ScalingPolicyFacts { policy_type, .. }) if policy_type == "TargetTrackingScaling"))
            })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["type", "metric", "target"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        _bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::ScalingPolicy(ScalingPolicySpec { target_cpu, .. }),
            Facts::ScalingPolicy(ScalingPolicyFacts {
                policy_type,
                metric,
                target,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        vec![
            Attr::new("type", "TargetTrackingScaling", policy_type),
            Attr::new(
                "metric",
                MetricType::AsgAverageCpuUtilization.as_str(),
                metric.as_deref().unwrap_or("none"),
            ),
            Attr::new(
                "target",
                format!("{target_cpu}%"),
                target.map_or_else(|| "none".to_owned(), |t| format!("{t}%")),
            ),
        ]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::ScalingPolicy(ScalingPolicyFacts { group, name, .. }) = &obs.facts else {
            return Ok(());
        };
        cx.aws
            .autoscaling
            .delete_policy()
            .auto_scaling_group_name(group)
            .policy_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("autoscaling:DeletePolicy", &obs.id, e))
    }

    fn related<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::ScalingPolicy(s) = &res.spec else {
            return None;
        };
        self.find_existing(world, owner, res, bound)
            .map(|p| (p, format!("as the target tracking policy of {}", s.group)))
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::ScalingPolicy(s) => format!("{} has no target tracking scaling policy", s.group),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
