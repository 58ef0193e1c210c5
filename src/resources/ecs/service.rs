//! ECS services on Fargate: tasks of a task definition kept at a desired count in a VPC's
//! subnets (`awsvpc`), optionally registered with a target group, deployed with the circuit
//! breaker. Listed with their cluster. `up` waits until the deployment has completed; `down`
//! scales to 0, deletes, and waits until the service is inactive and its tasks have stopped
//! (their network interfaces then leave the subnets; the subnets' deletes wait for that).

use std::time::Duration;

use super::*;
use crate::check::{FoundBy, Names};
use crate::resources::{EcsTaskDefinitionFacts, SubnetFacts};

/// How long a Fargate service usually takes to run its tasks (image pull, start, health checks).
const STEADY: Duration = Duration::from_secs(90);
/// How long a deleted service's tasks usually take to stop.
const DRAINED: Duration = Duration::from_secs(45);

/// What a lab file declares for an ECS service.
#[derive(Debug, Clone)]
pub struct EcsServiceSpec {
    pub cluster: String,
    pub task_definition: String,
    pub desired_count: i32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub public_ip: bool,
    pub target_group: Option<String>,
    /// The listener forwarding to the target group: ECS refuses a target group that no load
    /// balancer uses, so the service comes after it.
    pub listener: Option<String>,
    pub circuit_breaker: bool,
}

/// What AWS says of an ECS service.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EcsServiceFacts {
    pub name: String,
    pub cluster_arn: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`.
    pub status: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub task_definition: String,
    pub launch_type: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub public_ip: bool,
    pub target_groups: Vec<String>,
    pub circuit_breaker: bool,
    pub rollback: bool,
    /// The primary deployment's rollout: `IN_PROGRESS`, `COMPLETED`, `FAILED`.
    pub rollout: Option<String>,
    pub rollout_reason: Option<String>,
    /// The newest service event, in ECS's words.
    pub last_event: Option<String>,
    /// The VPC of its subnets.
    pub vpc_id: Option<String>,
}

impl crate::resources::KindSpec for EcsServiceSpec {
    fn refs(&self) -> Vec<&str> {
        let mut out = vec![self.cluster.as_str(), self.task_definition.as_str()];
        out.extend(self.subnets.iter().map(String::as_str));
        out.extend(self.security_groups.iter().map(String::as_str));
        out.extend(self.target_group.as_deref());
        out.extend(self.listener.as_deref());
        out
    }
}

impl crate::resources::KindFacts for EcsServiceFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        self.vpc_id.as_deref()
    }

    fn subnet_ids(&self) -> Vec<&str> {
        self.subnets.iter().map(String::as_str).collect()
    }

    fn security_groups(&self) -> Vec<&str> {
        self.security_groups.iter().map(String::as_str).collect()
    }

    fn target_groups(&self) -> Vec<&str> {
        self.target_groups.iter().map(String::as_str).collect()
    }

    fn is_gone(&self) -> bool {
        self.status == "INACTIVE"
    }
}

/// The keys of an `ecs_service` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct EcsServiceKeys {
    /// The `ecs_cluster` it runs in.
    #[schemars(with = "Option<String>")]
    pub cluster: Option<toml::Spanned<String>>,
    /// The `ecs_task_definition` its tasks run (its latest revision).
    #[schemars(with = "Option<String>")]
    pub task_definition: Option<toml::Spanned<String>>,
    /// How many tasks it keeps running (default 2).
    #[schemars(with = "Option<i64>")]
    pub desired_count: Option<toml::Spanned<i64>>,
    /// The subnets its tasks are placed in, one network interface each (`awsvpc`).
    #[schemars(with = "Option<Vec<String>>")]
    pub subnets: Option<Vec<toml::Spanned<String>>>,
    /// The security groups of its tasks' network interfaces.
    #[schemars(with = "Option<Vec<String>>")]
    pub security_groups: Option<Vec<toml::Spanned<String>>>,
    /// Give each task a public IP address (default false: tasks in private subnets reach the
    /// internet through the NAT gateway).
    #[schemars(with = "Option<bool>")]
    pub public_ip: Option<toml::Spanned<bool>>,
    /// The `target_group` (target type `ip`) its tasks are registered with.
    #[schemars(with = "Option<String>")]
    pub target_group: Option<toml::Spanned<String>>,
    /// The `listener` that forwards to the target group (the service is created after it).
    #[schemars(with = "Option<String>")]
    pub listener: Option<toml::Spanned<String>>,
    /// Roll a failing deployment back (the deployment circuit breaker; default true).
    #[schemars(with = "Option<bool>")]
    pub circuit_breaker: Option<toml::Spanned<bool>>,
}

impl ParseSpec for EcsServiceSpec {
    type Keys = EcsServiceKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &EcsServiceKeys) -> Self {
        let kind = Kind::EcsService;
        let one =
            |cx: &mut SpecCx<'_, '_, '_>, key: &str, v: &Option<Spanned<String>>, want: Kind| {
                cx.required(name, kind, key, v)
                    .cloned()
                    .and_then(|v| cx.reference(&v, &[want]))
                    .unwrap_or_default()
            };
        let cluster = one(cx, "cluster", &d.cluster, Kind::EcsCluster);
        let task_definition = one(
            cx,
            "task_definition",
            &d.task_definition,
            Kind::EcsTaskDefinition,
        );
        cx.required(name, kind, "subnets", &d.subnets);
        let desired_count = match &d.desired_count {
            None => 2,
            Some(n) => match i32::try_from(*n.get_ref()) {
                Ok(n) if (0..=100).contains(&n) => n,
                _ => {
                    cx.error(
                        n.span(),
                        format!("desired count {} is outside 0-100", n.get_ref()),
                        "invalid count",
                    );
                    2
                }
            },
        };
        let target_group = d
            .target_group
            .as_ref()
            .and_then(|t| cx.reference(t, &[Kind::TargetGroup]));
        let listener = d
            .listener
            .as_ref()
            .and_then(|l| cx.reference(l, &[Kind::Listener]));
        if let (Some(t), None) = (&d.target_group, &d.listener) {
            cx.error(
                t.span(),
                "a service registered with a target group needs `listener`",
                "no listener",
            );
            cx.help("name the listener that forwards to this target group: ECS refuses a target group no load balancer uses");
        }
        EcsServiceSpec {
            cluster,
            task_definition,
            desired_count,
            subnets: cx.subnet_refs(&d.subnets),
            security_groups: cx.groups(&d.security_groups),
            public_ip: d.public_ip.as_ref().is_some_and(|p| *p.get_ref()),
            target_group,
            listener,
            circuit_breaker: d.circuit_breaker.as_ref().is_none_or(|c| *c.get_ref()),
        }
    }
}

pub struct EcsService;

fn observe(s: &aws_sdk_ecs::types::Service, subnet_vpcs: &[(String, String)]) -> Option<Observed> {
    let name = s.service_name()?.to_owned();
    let net = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    let subnets: Vec<String> = net.map(|n| n.subnets().to_vec()).unwrap_or_default();
    let breaker = s
        .deployment_configuration()
        .and_then(|d| d.deployment_circuit_breaker());
    let primary = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    let vpc_id = subnets.iter().find_map(|sn| {
        subnet_vpcs
            .iter()
            .find(|(s, _)| s == sn)
            .map(|(_, v)| v.clone())
    });
    Some(Observed {
        kind: Kind::EcsService,
        id: s.service_arn()?.to_owned(),
        tags: named(tags_from(s.tags()), &name),
        facts: Facts::EcsService(EcsServiceFacts {
            name,
            cluster_arn: s.cluster_arn().unwrap_or_default().to_owned(),
            status: s.status().unwrap_or_default().to_owned(),
            desired: s.desired_count(),
            running: s.running_count(),
            pending: s.pending_count(),
            task_definition: s.task_definition().unwrap_or_default().to_owned(),
            launch_type: s.launch_type().map(|l| l.as_str().to_owned()),
            security_groups: net
                .map(|n| n.security_groups().to_vec())
                .unwrap_or_default(),
            public_ip: net
                .and_then(|n| n.assign_public_ip())
                .is_some_and(|a| a.as_str() == "ENABLED"),
            subnets,
            target_groups: s
                .load_balancers()
                .iter()
                .filter_map(|l| l.target_group_arn().map(str::to_owned))
                .collect(),
            circuit_breaker: breaker.is_some_and(|b| b.enable()),
            rollback: breaker.is_some_and(|b| b.rollback()),
            rollout: primary
                .and_then(|d| d.rollout_state())
                .map(|r| r.as_str().to_owned()),
            rollout_reason: primary
                .and_then(|d| d.rollout_state_reason())
                .map(str::to_owned),
            last_event: s
                .events()
                .first()
                .and_then(|e| e.message())
                .map(str::to_owned),
            vpc_id,
        }),
    })
}

impl EcsService {
    /// The services of a cluster (inactive ones left out), with the cluster's owner tags where
    /// a service carries none of its own.
    pub(super) async fn in_cluster(
        aws: &Aws,
        cluster: &Observed,
    ) -> Result<Vec<Observed>, AwsError> {
        let arns = aws
            .ecs
            .list_services()
            .cluster(&cluster.id)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await;
        let arns = match arns {
            Ok(a) => a,
            Err(e) => {
                let e = AwsError::from_sdk("ecs:ListServices", &cluster.id, e);
                // Deleted since the listing.
                return if e.is_gone() { Ok(Vec::new()) } else { Err(e) };
            }
        };
        let mut services = Vec::new();
        for chunk in arns.chunks(10) {
            let out = aws
                .ecs
                .describe_services()
                .cluster(&cluster.id)
                .set_services(Some(chunk.to_vec()))
                .include(aws_sdk_ecs::types::ServiceField::Tags)
                .send()
                .await
                .map_err(sdk("ecs:DescribeServices", &cluster.id))?;
            services.extend(out.services().iter().cloned());
        }
        let subnets: Vec<String> = services
            .iter()
            .filter_map(|s| s.network_configuration()?.awsvpc_configuration())
            .flat_map(|n| n.subnets().to_vec())
            .collect();
        let vpcs = subnet_vpcs(aws, subnets).await?;
        let owner_tags = tags::owner_part(&cluster.tags);
        Ok(services
            .iter()
            .filter_map(|s| observe(s, &vpcs))
            .filter(|o| !o.is_gone())
            .map(|mut o| {
                if !o.tags.contains_key(tags::LAB) {
                    o.tags.extend(owner_tags.clone());
                }
                o
            })
            .collect())
    }

    async fn describe(
        aws: &Aws,
        cluster: &str,
        service: &str,
    ) -> Result<Option<Observed>, AwsError> {
        let out = aws
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .include(aws_sdk_ecs::types::ServiceField::Tags)
            .send()
            .await
            .map_err(sdk("ecs:DescribeServices", service))?;
        Ok(out.services().first().and_then(|s| observe(s, &[])))
    }

    /// Polls until the service's deployment has completed with its tasks running.
    async fn steady(
        cx: &ApplyCx<'_>,
        res: &Resource,
        cluster: &str,
        arn: &str,
    ) -> Result<Observed, AwsError> {
        let last = std::sync::Mutex::new(None);
        cx.wait
            .until(&res.name, "steady", STEADY, || async {
                // A new service may be `MISSING` from a describe for a while: asked again.
                let o = cx
                    .aws
                    .settle(|| async {
                        crate::aws::listed(
                            Self::describe(cx.aws, cluster, arn).await?,
                            "ecs:DescribeServices",
                            arn,
                        )
                    })
                    .await?;
                let Facts::EcsService(f) = &o.facts else {
                    return Ok(Poll::Done);
                };
                if f.rollout.as_deref() == Some("FAILED") {
                    return Err(AwsError::from_fault(
                        "ecs:CreateService",
                        &res.name,
                        Fault::CreationFailed {
                            what: "service",
                            id: f.name.clone(),
                            state: "FAILED".to_owned(),
                            reason: f
                                .last_event
                                .clone()
                                .or_else(|| f.rollout_reason.clone())
                                .unwrap_or_default(),
                        },
                    ));
                }
                let done = f.running == f.desired
                    && f.pending == 0
                    && f.rollout.as_deref().is_none_or(|r| r == "COMPLETED");
                let state = format!(
                    "{} of {} tasks running{}",
                    f.running,
                    f.desired,
                    f.rollout
                        .as_deref()
                        .map(|r| format!(", deployment {}", r.to_lowercase().replace('_', " ")))
                        .unwrap_or_default()
                );
                if let Ok(mut l) = last.lock() {
                    *l = Some(o);
                }
                Ok(if done {
                    Poll::Done
                } else {
                    Poll::Waiting(state)
                })
            })
            .await?;
        last.into_inner()
            .ok()
            .flatten()
            .ok_or_else(|| AwsError::from_fault("ecs:DescribeServices", arn, Fault::NotListed))
    }
}

/// (subnet, VPC) for the subnets services run in.
async fn subnet_vpcs(
    aws: &Aws,
    mut subnets: Vec<String>,
) -> Result<Vec<(String, String)>, AwsError> {
    subnets.sort();
    subnets.dedup();
    if subnets.is_empty() {
        return Ok(Vec::new());
    }
    let out = aws
        .ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("subnet-id")
                .set_values(Some(subnets))
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeSubnets", "subnets of services", e))?;
    Ok(out
        .subnets()
        .iter()
        .filter_map(|s| Some((s.subnet_id()?.to_owned(), s.vpc_id()?.to_owned())))
        .collect())
}

#[async_trait]
impl ResourceKind for EcsService {
    fn kind(&self) -> Kind {
        Kind::EcsService
    }

    fn placement(&self) -> crate::resources::Placement {
        crate::resources::Placement::Child(Kind::EcsCluster)
    }

    fn lookup(&self) -> crate::resources::Lookup {
        crate::resources::Lookup::WithParent
    }

    fn lives_in_vpc(&self) -> bool {
        true
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

    /// Listed with their cluster ([`super::EcsCluster`]).
    async fn discover(&self, _aws: &Aws, _scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let spec: &EcsServiceSpec = crate::resources::spec_of(res)?;
        let cluster = cx.bound.require(&spec.cluster, &res.name)?.to_owned();
        cx.bound.require(&spec.task_definition, &res.name)?;
        let Some(Facts::EcsTaskDefinition(EcsTaskDefinitionFacts {
            arn: td_arn,
            containers,
            ..
        })) = cx.bound.get(&spec.task_definition).map(|o| &o.facts)
        else {
            return Err(crate::resources::wrong_spec(res, Kind::EcsService));
        };
        let mut subnets = Vec::new();
        for s in &spec.subnets {
            subnets.push(cx.bound.require(s, &res.name)?.to_owned());
        }
        let mut groups = Vec::new();
        for g in &spec.security_groups {
            groups.push(cx.bound.require(g, &res.name)?.to_owned());
        }
        use aws_sdk_ecs::types::{
            AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
            LaunchType, LoadBalancer, NetworkConfiguration, PropagateTags,
        };
        let built = |e| AwsError::from_fault("ecs:CreateService", &res.name, Fault::Unbuilt(e));
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(Some(subnets.clone()))
                    .set_security_groups(Some(groups.clone()))
                    .assign_public_ip(if spec.public_ip {
                        AssignPublicIp::Enabled
                    } else {
                        AssignPublicIp::Disabled
                    })
                    .build()
                    .map_err(built)?,
            )
            .build();
        let deployment = DeploymentConfiguration::builder()
            .deployment_circuit_breaker(
                DeploymentCircuitBreaker::builder()
                    .enable(spec.circuit_breaker)
                    .rollback(spec.circuit_breaker)
                    .build(),
            )
            .maximum_percent(200)
            .minimum_healthy_percent(100)
            .build();
        let arn = match existing.map(|o| &o.facts) {
            Some(Facts::EcsService(f)) => {
                let mut want_sn = subnets.clone();
                want_sn.sort();
                let mut have_sn = f.subnets.clone();
                have_sn.sort();
                let mut want_sg = groups.clone();
                want_sg.sort();
                let mut have_sg = f.security_groups.clone();
                have_sg.sort();
                if f.desired != spec.desired_count
                    || f.task_definition != *td_arn
                    || f.public_ip != spec.public_ip
                    || want_sn != have_sn
                    || want_sg != have_sg
                    || f.circuit_breaker != spec.circuit_breaker
                {
                    cx.aws
                        .known("ecs:UpdateService", &res.name, || {
                            cx.aws
                                .ecs
                                .update_service()
                                .cluster(&cluster)
                                .service(&f.name)
                                .desired_count(spec.desired_count)
                                .task_definition(td_arn)
                                .network_configuration(network.clone())
                                .deployment_configuration(deployment.clone())
                                .send()
                        })
                        .await?;
                }
                existing.map(|o| o.id.clone()).unwrap_or_default()
            }
            Some(_) => return Err(crate::resources::wrong_spec(res, self.kind())),
            None => {
                let mut balancers = Vec::new();
                if let Some(tg) = &spec.target_group {
                    let c = containers.first();
                    balancers.push(
                        LoadBalancer::builder()
                            .target_group_arn(cx.bound.require(tg, &res.name)?)
                            .container_name(c.map_or("web", |c| c.name.as_str()))
                            .container_port(c.and_then(|c| c.port).unwrap_or(80))
                            .build(),
                    );
                }
                let name = ecs_name(cx.owner, &res.name);
                // At most 36 characters.
                let full = cx.owner.client_token(&res.name);
                let token = full.strip_prefix("awslab-").unwrap_or(&full).to_owned();
                // A new cluster, or a target group only now attached to its listener, may not
                // be visible to ECS yet: asked again while it says so.
                let out = cx
                    .aws
                    .known("ecs:CreateService", &res.name, || {
                        cx.aws
                            .ecs
                            .create_service()
                            .cluster(&cluster)
                            .service_name(&name)
                            .task_definition(td_arn)
                            .desired_count(spec.desired_count)
                            .launch_type(LaunchType::Fargate)
                            .network_configuration(network.clone())
                            .deployment_configuration(deployment.clone())
                            .set_load_balancers(Some(balancers.clone()))
                            .client_token(&token)
                            .propagate_tags(PropagateTags::Service)
                            .enable_ecs_managed_tags(true)
                            .set_tags(Some(ecs_tags(cx.owner, &res.name)))
                            .send()
                    })
                    .await?;
                let arn = out.service().and_then(|s| s.service_arn()).ok_or_else(|| {
                    AwsError::from_fault(
                        "ecs:CreateService",
                        &res.name,
                        Fault::NoArn { what: "serviceArn" },
                    )
                })?;
                arn.to_owned()
            }
        };
        let mut obs = Self::steady(cx, res, &cluster, &arn).await?;
        // The describe by ARN does not place the subnets: they are the lab's.
        if let Facts::EcsService(f) = &mut obs.facts {
            f.vpc_id = spec
                .subnets
                .first()
                .and_then(|s| cx.bound.get(s))
                .and_then(|s| match &s.facts {
                    Facts::Subnet(SubnetFacts { vpc_id, .. }) => vpc_id.clone(),
                    _ => None,
                });
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec![
            "cluster",
            "task_definition",
            "launch_type",
            "desired_count",
            "subnets",
            "security_groups",
            "public_ip",
            "target_group",
            "circuit_breaker",
        ]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        world: &World,
    ) -> Vec<Attr> {
        let (Spec::EcsService(s), Facts::EcsService(f)) = (&res.spec, &obs.facts) else {
            return Vec::new();
        };
        let labels = |ids: &[String]| {
            let mut v: Vec<String> = ids.iter().map(|i| bound.label(i)).collect();
            v.sort();
            v.join(", ")
        };
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.join(", ")
        };
        let family = |arn: &str| {
            let fam = arn_name(arn)
                .rsplit_once(':')
                .map_or(arn_name(arn), |(f, _)| f)
                .to_owned();
            world.get(&fam).map_or(fam.clone(), |o| bound.label(&o.id))
        };
        let none = || "none".to_owned();
        vec![
            Attr::new("cluster", &s.cluster, bound.label(&f.cluster_arn)),
            Attr::new(
                "task_definition",
                &s.task_definition,
                family(&f.task_definition),
            ),
            Attr::new(
                "launch_type",
                "FARGATE",
                f.launch_type.clone().unwrap_or_else(none),
            ),
            Attr::new("desired_count", s.desired_count, f.desired),
            Attr::new("subnets", sorted(&s.subnets), labels(&f.subnets)),
            Attr::new(
                "security_groups",
                sorted(&s.security_groups),
                labels(&f.security_groups),
            ),
            Attr::new("public_ip", s.public_ip, f.public_ip),
            Attr::new(
                "target_group",
                s.target_group.clone().unwrap_or_else(none),
                if f.target_groups.is_empty() {
                    none()
                } else {
                    labels(&f.target_groups)
                },
            ),
            Attr::new(
                "circuit_breaker",
                if s.circuit_breaker {
                    "on, with rollback"
                } else {
                    "off"
                },
                match (f.circuit_breaker, f.rollback) {
                    (true, true) => "on, with rollback",
                    (true, false) => "on, without rollback",
                    _ => "off",
                },
            ),
        ]
    }

    fn attr_hint(&self, _res: &Resource, attr: &Attr) -> Option<String> {
        Some(match attr.key.as_str() {
            "public_ip" => "turn Public IP off: the tasks sit in private subnets and are reached only through the load balancer".to_owned(),
            "subnets" => format!("place the tasks in {} (Networking -> Subnets), not the public ones", attr.expected),
            "security_groups" => format!("give the tasks the security group {} only", attr.expected),
            "circuit_breaker" => "under Deployment options turn on the deployment circuit breaker with rollback on failures".to_owned(),
            "launch_type" => "choose the launch type FARGATE".to_owned(),
            "target_group" => format!("under Load balancing use the existing target group {}", attr.expected),
            _ => return None,
        })
    }

    /// Its own tags, else its cluster's.
    fn find_existing<'w>(
        &self,
        world: &'w World,
        owner: &Owner,
        res: &Resource,
        _bound: &Bindings,
    ) -> Option<&'w Observed> {
        world.of_kind(Kind::EcsService).find(|o| {
            !o.is_gone()
                && owner.owns(&o.tags)
                && o.tags.get(tags::RESOURCE).map(String::as_str) == Some(res.name.as_str())
        })
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::EcsService(f) = &obs.facts else {
            return Ok(());
        };
        let ecs = &cx.aws.ecs;
        if f.desired > 0 {
            crate::resources::ec2util::gone_ok(
                ecs.update_service()
                    .cluster(&f.cluster_arn)
                    .service(&obs.id)
                    .desired_count(0)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk("ecs:UpdateService", &f.name)),
            )?;
        }
        let tasks = ecs
            .list_tasks()
            .cluster(&f.cluster_arn)
            .service_name(&f.name)
            .send()
            .await
            .map(|o| o.task_arns().to_vec())
            .or_else(|e| {
                let e = AwsError::from_sdk("ecs:ListTasks", &f.name, e);
                if e.is_gone() { Ok(Vec::new()) } else { Err(e) }
            })?;
        crate::resources::ec2util::gone_ok(
            ecs.delete_service()
                .cluster(&f.cluster_arn)
                .service(&obs.id)
                .force(true)
                .send()
                .await
                .map(drop)
                .map_err(sdk("ecs:DeleteService", &f.name)),
        )?;
        cx.wait
            .until(&f.name, "inactive", DRAINED, || async {
                Ok(
                    match Self::describe(cx.aws, &f.cluster_arn, &obs.id).await? {
                        Some(o) if !o.is_gone() => match &o.facts {
                            Facts::EcsService(s) => Poll::Waiting(s.status.to_lowercase()),
                            _ => Poll::Done,
                        },
                        _ => Poll::Done,
                    },
                )
            })
            .await?;
        if tasks.is_empty() {
            return Ok(());
        }
        cx.wait
            .until(&f.name, "tasks stopped", DRAINED, || async {
                let out = ecs
                    .describe_tasks()
                    .cluster(&f.cluster_arn)
                    .set_tasks(Some(tasks.clone()))
                    .send()
                    .await
                    .map_err(sdk("ecs:DescribeTasks", &f.name))?;
                let running = out
                    .tasks()
                    .iter()
                    .filter(|t| {
                        t.last_status() != Some("STOPPED") && t.last_status() != Some("DELETED")
                    })
                    .count();
                Ok(if running == 0 {
                    Poll::Done
                } else {
                    Poll::Waiting(format!("{running} tasks stopping"))
                })
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
            Facts::EcsService(f) => {
                crate::resources::named_as(o, res, names, "service name", &f.name)
            }
            _ => None,
        }
    }

    fn create_hint(&self, res: &Resource, name: &str) -> String {
        format!(
            "create the service `{name}` in the lab's cluster (Deploy -> Create service, launch type FARGATE) for `{}`",
            res.name
        )
    }

    fn typical(&self) -> Option<&'static str> {
        Some("tasks running in ~1-2 min")
    }

    fn price(&self, res: &Resource, lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        let Spec::EcsService(s) = &res.spec else {
            return;
        };
        let size = lab.resources.iter().find_map(|r| match &r.spec {
            Spec::EcsTaskDefinition(t) if r.name == s.task_definition => Some((t.cpu, t.memory)),
            _ => None,
        });
        if let Some((cpu, memory)) = size {
            let hourly = crate::cost::fargate_hourly(cpu, memory) * f64::from(s.desired_count);
            e.add(
                format!(
                    "ECS service {}: {} Fargate tasks of {} vCPU / {} GB",
                    res.name,
                    s.desired_count,
                    f64::from(cpu) / 1024.0,
                    f64::from(memory) / 1024.0
                ),
                hourly,
            );
        }
    }

    fn price_observed(&self, obs: &Observed, _eips: &[&str], e: &mut crate::cost::Estimate) {
        let Facts::EcsService(f) = &obs.facts else {
            return;
        };
        if f.running + f.pending > 0 {
            // The size is the task definition's, which the service's description does not
            // carry: priced at Fargate's smallest size.
            e.add(
                format!(
                    "ECS service {}: {} Fargate tasks (at least 0.25 vCPU / 0.5 GB each)",
                    f.name,
                    f.running + f.pending
                ),
                crate::cost::fargate_hourly(256, 512) * f64::from(f.running + f.pending),
            );
        }
    }
}
