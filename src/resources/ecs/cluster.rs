//! ECS clusters: a name and Container Insights. A cluster's listing also lists its services
//! (ECS has no listing of services across clusters).

use super::*;
use crate::check::{FoundBy, Names};

/// What a lab file declares for an ECS cluster.
#[derive(Debug, Clone)]
pub struct EcsClusterSpec {
    pub container_insights: bool,
}

/// What AWS says of an ECS cluster.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EcsClusterFacts {
    pub name: String,
    pub arn: String,
    /// `ACTIVE`, `PROVISIONING`, `DEPROVISIONING`, `FAILED`, `INACTIVE`.
    pub status: String,
    pub container_insights: bool,
    pub active_services: i32,
    pub running_tasks: i32,
}

impl crate::resources::KindSpec for EcsClusterSpec {
    fn refs(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl crate::resources::KindFacts for EcsClusterFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }

    /// ECS lists a deleted cluster as `INACTIVE` for a while.
    fn is_gone(&self) -> bool {
        self.status == "INACTIVE"
    }
}

/// The keys of an `ecs_cluster` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct EcsClusterKeys {
    /// Collect CloudWatch Container Insights metrics (charged per metric; off by default).
    #[schemars(with = "Option<bool>")]
    pub container_insights: Option<toml::Spanned<bool>>,
}

impl ParseSpec for EcsClusterSpec {
    type Keys = EcsClusterKeys;

    fn parse(_cx: &mut SpecCx<'_, '_, '_>, _name: &Spanned<String>, d: &EcsClusterKeys) -> Self {
        EcsClusterSpec {
            container_insights: d.container_insights.as_ref().is_some_and(|c| *c.get_ref()),
        }
    }
}

pub struct EcsCluster;

fn observe(c: &aws_sdk_ecs::types::Cluster) -> Option<Observed> {
    let name = c.cluster_name()?.to_owned();
    let arn = c.cluster_arn()?.to_owned();
    Some(Observed {
        kind: Kind::EcsCluster,
        id: arn.clone(),
        tags: named(tags_from(c.tags()), &name),
        facts: Facts::EcsCluster(EcsClusterFacts {
            name,
            arn,
            status: c.status().unwrap_or_default().to_owned(),
            container_insights: c.settings().iter().any(|s| {
                s.name().map(|n| n.as_str()) == Some("containerInsights")
                    && s.value() == Some("enabled")
            }),
            active_services: c.active_services_count(),
            running_tasks: c.running_tasks_count(),
        }),
    })
}

impl EcsCluster {
    /// Every cluster of the region, described with its tags.
    async fn all(aws: &Aws) -> Result<Vec<Observed>, AwsError> {
        let arns = aws
            .ecs
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(sdk("ecs:ListClusters", "clusters"))?;
        let mut out = Vec::new();
        for chunk in arns.chunks(100) {
            let found = aws
                .ecs
                .describe_clusters()
                .set_clusters(Some(chunk.to_vec()))
                .include(aws_sdk_ecs::types::ClusterField::Tags)
                .include(aws_sdk_ecs::types::ClusterField::Settings)
                .send()
                .await
                .map_err(sdk("ecs:DescribeClusters", "clusters"))?;
            out.extend(found.clusters().iter().filter_map(observe));
        }
        Ok(out)
    }
}

#[async_trait]
impl ResourceKind for EcsCluster {
    fn kind(&self) -> Kind {
        Kind::EcsCluster
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Regional
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::Named
    }

    async fn stamp(
        &self,
        aws: &Aws,
        obs: &Observed,
        key: &str,
        value: &str,
    ) -> Result<crate::resources::Stamped, AwsError> {
        tag_arn(aws, &obs.id, key, value).await?;
        Ok(crate::resources::Stamped::Done)
    }

    /// The clusters in scope and the services in them; a VPC scope finds the services whose
    /// tasks run in those VPCs, in any cluster, and no cluster.
    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        if matches!(scope, Scope::Named(n) if n.is_empty())
            || matches!(scope, Scope::InVpcs(v) if v.is_empty())
        {
            return Ok(Vec::new());
        }
        let clusters = Self::all(aws).await?;
        let mut out = Vec::new();
        for c in clusters {
            let Facts::EcsCluster(f) = &c.facts else {
                continue;
            };
            if c.is_gone() {
                continue;
            }
            let keep = !matches!(scope, Scope::InVpcs(_)) && wanted(&c.tags, &f.name, scope);
            if !keep && !matches!(scope, Scope::InVpcs(_)) {
                continue;
            }
            let mut services = EcsService::in_cluster(aws, &c).await?;
            if let Scope::InVpcs(vpcs) = scope {
                services.retain(|s| s.vpc_id().is_some_and(|v| vpcs.iter().any(|x| x == v)));
            }
            out.extend(services);
            if keep {
                out.push(c);
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
        let EcsClusterSpec { container_insights } = crate::resources::spec_of(res)?;
        let insights = if *container_insights {
            "enabled"
        } else {
            "disabled"
        };
        let setting = aws_sdk_ecs::types::ClusterSetting::builder()
            .name(aws_sdk_ecs::types::ClusterSettingName::ContainerInsights)
            .value(insights)
            .build();
        if let Some(o) = existing {
            if let Facts::EcsCluster(f) = &o.facts
                && f.container_insights != *container_insights
            {
                cx.aws
                    .known("ecs:UpdateClusterSettings", &res.name, || {
                        cx.aws
                            .ecs
                            .update_cluster_settings()
                            .cluster(&o.id)
                            .settings(setting.clone())
                            .send()
                    })
                    .await?;
            }
            let mut o = o.clone();
            if let Facts::EcsCluster(f) = &mut o.facts {
                f.container_insights = *container_insights;
            }
            return Ok(o);
        }
        let name = ecs_name(cx.owner, &res.name);
        let out = cx
            .aws
            .ecs
            .create_cluster()
            .cluster_name(&name)
            .settings(setting)
            .set_tags(Some(ecs_tags(cx.owner, &res.name)))
            .send()
            .await
            .map_err(sdk("ecs:CreateCluster", &res.name))?;
        let obs = out.cluster().and_then(observe).ok_or_else(|| {
            AwsError::from_fault(
                "ecs:CreateCluster",
                &res.name,
                Fault::NoArn { what: "clusterArn" },
            )
        })?;
        // CreateCluster answers with the cluster of that name when one exists: carried on with
        // only when it is this owner's.
        if !cx.owner.owns(&obs.tags) {
            return Err(AwsError::from_fault(
                "ecs:CreateCluster",
                &res.name,
                Fault::NotOurs {
                    what: "a cluster",
                    name,
                },
            ));
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["container_insights"]
    }

    fn compare(&self, res: &Resource, obs: &Observed, _b: &Bindings, _w: &World) -> Vec<Attr> {
        let (Spec::EcsCluster(s), Facts::EcsCluster(f)) = (&res.spec, &obs.facts) else {
            return Vec::new();
        };
        vec![Attr::new(
            "container_insights",
            s.container_insights,
            f.container_insights,
        )]
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        world
            .of_kind(Kind::EcsService)
            .filter(|s| !s.is_gone())
            .filter(|s| matches!(&s.facts, Facts::EcsService(f) if f.cluster_arn == obs.id))
            .map(|s| s.id.clone())
            .collect()
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        // Refused while services or tasks are still in it (their deletes drain for a while).
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ecs
                    .delete_cluster()
                    .cluster(&obs.id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk("ecs:DeleteCluster", &obs.id))
            })
            .await
    }

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        match &o.facts {
            Facts::EcsCluster(f) => {
                crate::resources::named_as(o, res, names, "cluster name", &f.name)
            }
            _ => None,
        }
    }

    fn create_hint(&self, res: &Resource, name: &str) -> String {
        format!(
            "create the ECS cluster `{name}` (console: ECS -> Clusters -> Create cluster, infrastructure AWS Fargate) for `{}`",
            res.name
        )
    }

    /// Free: Fargate bills the tasks.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free: Fargate bills the tasks.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
