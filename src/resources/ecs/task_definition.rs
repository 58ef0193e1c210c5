//! ECS task definitions: one family, one container, Fargate and `awsvpc`. What a task runs is
//! a revision; the family is the resource. `up` registers a new revision when the lab's
//! definition differs from the latest; `down` deregisters every revision and deletes them.

use super::*;
use crate::check::{FoundBy, Names};
use crate::resources::{IamRoleFacts, ImageFacts};

/// The image a task definition runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskImage {
    /// An `ecr_image` of the lab: run from this account's ECR, by digest.
    Lab(String),
    /// Any other image reference (`public.ecr.aws/nginx/nginx:stable`, `nginx:latest`).
    Uri(String),
}

/// What a lab file declares for an ECS task definition.
#[derive(Debug, Clone)]
pub struct EcsTaskDefinitionSpec {
    pub cpu: u32,
    pub memory: u32,
    pub image: TaskImage,
    pub container_name: String,
    pub port: u16,
    pub execution_role: String,
    pub task_role: Option<String>,
    pub log_group: Option<String>,
    /// The container health check's shell command (`CMD-SHELL`).
    pub health_check: Option<String>,
}

/// One container of a revision.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContainerFacts {
    pub name: String,
    pub image: String,
    pub port: Option<i32>,
    pub log_driver: Option<String>,
    pub log_group: Option<String>,
    pub health_check: Option<String>,
}

/// What AWS says of a task definition family: its latest revision, and every revision.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EcsTaskDefinitionFacts {
    pub family: String,
    /// The latest revision (its ARN, `family:N`).
    pub arn: String,
    pub revision: i32,
    pub compatibilities: Vec<String>,
    pub network_mode: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub execution_role_arn: Option<String>,
    pub task_role_arn: Option<String>,
    pub containers: Vec<ContainerFacts>,
    /// The ARNs of the revisions still registered.
    pub active: Vec<String>,
    /// The ARNs of the revisions deregistered but not deleted.
    pub inactive: Vec<String>,
}

impl crate::resources::KindSpec for EcsTaskDefinitionSpec {
    fn refs(&self) -> Vec<&str> {
        let mut out = vec![self.execution_role.as_str()];
        if let TaskImage::Lab(i) = &self.image {
            out.push(i);
        }
        out.extend(self.task_role.as_deref());
        out.extend(self.log_group.as_deref());
        out
    }
}

impl crate::resources::KindFacts for EcsTaskDefinitionFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }

    fn is_gone(&self) -> bool {
        self.active.is_empty() && self.inactive.is_empty()
    }
}

/// The keys of an `ecs_task_definition` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct EcsTaskDefinitionKeys {
    /// Task CPU units (256 = 0.25 vCPU); default 256.
    #[schemars(with = "Option<i64>")]
    pub cpu: Option<toml::Spanned<i64>>,
    /// Task memory in MiB, a size Fargate offers for the CPU (256: 512, 1024 or 2048); default 512.
    #[schemars(with = "Option<i64>")]
    pub memory: Option<toml::Spanned<i64>>,
    /// The lab's `ecr_image` (run from this account's ECR by digest), or an image reference.
    #[schemars(with = "Option<String>")]
    pub image: Option<toml::Spanned<String>>,
    /// The container's name (default `web`): the service's load balancer names it.
    #[schemars(with = "Option<String>")]
    pub container_name: Option<toml::Spanned<String>>,
    /// The port the container listens on (default 80).
    #[schemars(with = "Option<i64>")]
    pub port: Option<toml::Spanned<i64>>,
    /// The `iam_role` ECS uses to pull the image and write the logs (the task execution role).
    #[schemars(with = "Option<String>")]
    pub execution_role: Option<toml::Spanned<String>>,
    /// The `iam_role` the application's AWS calls use (the task role).
    #[schemars(with = "Option<String>")]
    pub task_role: Option<toml::Spanned<String>>,
    /// The `log_group` the container logs to (the awslogs driver).
    #[schemars(with = "Option<String>")]
    pub log_group: Option<toml::Spanned<String>>,
    /// The container health check, a shell command, e.g. `wget -q -O /dev/null http://localhost/ || exit 1`.
    #[schemars(with = "Option<String>")]
    pub health_check: Option<toml::Spanned<String>>,
}

/// The memory sizes Fargate offers for each CPU size (MiB).
fn fargate_memory(cpu: u32) -> Option<Vec<u32>> {
    let gb = |from: u32, to: u32, step: u32| {
        (from..=to)
            .step_by(step as usize)
            .map(|g| g * 1024)
            .collect::<Vec<_>>()
    };
    match cpu {
        256 => Some(vec![512, 1024, 2048]),
        512 => Some(gb(1, 4, 1)),
        1024 => Some(gb(2, 8, 1)),
        2048 => Some(gb(4, 16, 1)),
        4096 => Some(gb(8, 30, 1)),
        _ => None,
    }
}

impl ParseSpec for EcsTaskDefinitionSpec {
    type Keys = EcsTaskDefinitionKeys;

    fn parse(
        cx: &mut SpecCx<'_, '_, '_>,
        name: &Spanned<String>,
        d: &EcsTaskDefinitionKeys,
    ) -> Self {
        let kind = Kind::EcsTaskDefinition;
        let cpu = d
            .cpu
            .as_ref()
            .map_or(256, |c| u32::try_from(*c.get_ref()).unwrap_or(0));
        let memory = d
            .memory
            .as_ref()
            .map_or(512, |m| u32::try_from(*m.get_ref()).unwrap_or(0));
        match fargate_memory(cpu) {
            None => {
                let span = d.cpu.as_ref().map_or(name.span(), Spanned::span);
                cx.error(
                    span,
                    format!("Fargate has no {cpu} CPU size"),
                    "invalid cpu",
                );
                cx.help("256 (0.25 vCPU), 512, 1024, 2048 or 4096");
            }
            Some(sizes) if !sizes.contains(&memory) => {
                let span = d.memory.as_ref().map_or(name.span(), Spanned::span);
                cx.error(
                    span,
                    format!("Fargate has no {memory} MiB size for {cpu} CPU"),
                    "invalid memory",
                );
                let sizes: Vec<String> = sizes.iter().map(u32::to_string).collect();
                cx.help(format!("for {cpu} CPU: {}", sizes.join(", ")));
            }
            Some(_) => {}
        }
        let image = match cx.required(name, kind, "image", &d.image).cloned() {
            None => TaskImage::Uri(String::new()),
            Some(i) if cx.declares(i.get_ref()) => cx
                .reference(&i, &[Kind::Image])
                .map_or_else(|| TaskImage::Uri(String::new()), TaskImage::Lab),
            Some(i) => TaskImage::Uri(i.into_inner()),
        };
        let role = |cx: &mut SpecCx<'_, '_, '_>, r: &Option<Spanned<String>>| {
            r.as_ref().and_then(|r| cx.reference(r, &[Kind::IamRole]))
        };
        let execution_role = match cx.required(name, kind, "execution_role", &d.execution_role) {
            Some(_) => role(cx, &d.execution_role).unwrap_or_default(),
            None => String::new(),
        };
        EcsTaskDefinitionSpec {
            cpu,
            memory,
            image,
            container_name: d
                .container_name
                .as_ref()
                .map_or_else(|| "web".to_owned(), |c| c.get_ref().clone()),
            port: cx.service_port(&d.port),
            execution_role,
            task_role: role(cx, &d.task_role),
            log_group: d
                .log_group
                .as_ref()
                .and_then(|l| cx.reference(l, &[Kind::LogGroup])),
            health_check: d.health_check.as_ref().map(|h| h.get_ref().clone()),
        }
    }
}

pub struct EcsTaskDefinition;

fn container(c: &aws_sdk_ecs::types::ContainerDefinition) -> ContainerFacts {
    let log = c.log_configuration();
    ContainerFacts {
        name: c.name().unwrap_or_default().to_owned(),
        image: c.image().unwrap_or_default().to_owned(),
        port: c.port_mappings().first().and_then(|p| p.container_port()),
        log_driver: log.map(|l| l.log_driver().as_str().to_owned()),
        log_group: log
            .and_then(|l| l.options())
            .and_then(|o| o.get("awslogs-group"))
            .cloned(),
        health_check: c.health_check().map(|h| {
            let cmd = h.command();
            match cmd.first().map(String::as_str) {
                Some("CMD-SHELL") => cmd[1..].join(" "),
                _ => cmd.join(" "),
            }
        }),
    }
}

fn observe(
    t: &aws_sdk_ecs::types::TaskDefinition,
    tags: &[Tag],
    active: Vec<String>,
    inactive: Vec<String>,
) -> Option<Observed> {
    let family = t.family()?.to_owned();
    Some(Observed {
        kind: Kind::EcsTaskDefinition,
        id: family.clone(),
        tags: named(tags_from(tags), &family),
        facts: Facts::EcsTaskDefinition(EcsTaskDefinitionFacts {
            family,
            arn: t.task_definition_arn()?.to_owned(),
            revision: t.revision(),
            compatibilities: t
                .requires_compatibilities()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            network_mode: t.network_mode().map(|m| m.as_str().to_owned()),
            cpu: t.cpu().map(str::to_owned),
            memory: t.memory().map(str::to_owned),
            execution_role_arn: t
                .execution_role_arn()
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
            task_role_arn: t
                .task_role_arn()
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
            containers: t.container_definitions().iter().map(container).collect(),
            active,
            inactive,
        }),
    })
}

/// Revision ARNs, oldest first.
fn by_revision(mut arns: Vec<String>) -> Vec<String> {
    let rev = |a: &String| {
        a.rsplit(':')
            .next()
            .and_then(|r| r.parse::<u32>().ok())
            .unwrap_or(0)
    };
    arns.sort_by_key(rev);
    arns
}

impl EcsTaskDefinition {
    async fn revisions(
        aws: &Aws,
        family: &str,
        status: aws_sdk_ecs::types::TaskDefinitionStatus,
    ) -> Result<Vec<String>, AwsError> {
        let arns = aws
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(status)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(sdk("ecs:ListTaskDefinitions", family))?;
        // The prefix is a family name: ECS matches it whole, an emulator may not.
        Ok(by_revision(
            arns.into_iter()
                .filter(|a| {
                    arn_name(a)
                        .rsplit_once(':')
                        .is_some_and(|(f, _)| f == family)
                })
                .collect(),
        ))
    }

    /// The family with its revisions (`None`: none left).
    async fn family(aws: &Aws, family: &str) -> Result<Option<Observed>, AwsError> {
        use aws_sdk_ecs::types::TaskDefinitionStatus as S;
        let active = Self::revisions(aws, family, S::Active).await?;
        let inactive = Self::revisions(aws, family, S::Inactive).await?;
        let Some(latest) = active.last().or(inactive.last()) else {
            return Ok(None);
        };
        let out = match aws
            .ecs
            .describe_task_definition()
            .task_definition(latest)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let e = AwsError::from_sdk("ecs:DescribeTaskDefinition", latest, e);
                // Deregistered and deleted since the listing.
                return if e.is_gone() || e.aws_code() == Some("ClientException") {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        Ok(out
            .task_definition()
            .and_then(|t| observe(t, out.tags(), active, inactive)))
    }

    /// The image the lab means, as a task definition names it.
    async fn image_uri(
        cx: &ApplyCx<'_>,
        res: &Resource,
        image: &TaskImage,
    ) -> Result<String, AwsError> {
        match image {
            TaskImage::Uri(u) => Ok(u.clone()),
            TaskImage::Lab(name) => {
                cx.bound.require(name, &res.name)?;
                let Some(Facts::Image(ImageFacts {
                    repository, digest, ..
                })) = cx.bound.get(name).map(|o| &o.facts)
                else {
                    return Err(crate::resources::wrong_spec(res, Kind::EcsTaskDefinition));
                };
                let account = cx.aws.account_id().await?;
                Ok(format!(
                    "{account}.dkr.ecr.{}.amazonaws.com/{repository}@{digest}",
                    cx.aws.region
                ))
            }
        }
    }

    fn role_arn(bound: &Bindings, name: &str, of: &str) -> Result<String, AwsError> {
        bound.require(name, of)?;
        match bound.get(name).map(|o| &o.facts) {
            Some(Facts::IamRole(IamRoleFacts { arn, .. })) => Ok(arn.clone()),
            _ => Err(AwsError::from_fault(
                "resolve",
                of,
                Fault::NotCreated {
                    name: name.to_owned(),
                },
            )),
        }
    }
}

/// What the lab's revision must hold, as ECS describes a revision (for "is the latest one it").
#[derive(Debug, PartialEq, Eq)]
struct Wanted {
    cpu: String,
    memory: String,
    execution_role_arn: Option<String>,
    task_role_arn: Option<String>,
    name: String,
    image: String,
    port: Option<i32>,
    log_group: Option<String>,
    health_check: Option<String>,
}

impl Wanted {
    fn of(f: &EcsTaskDefinitionFacts) -> Option<Wanted> {
        let c = f.containers.first()?;
        Some(Wanted {
            cpu: f.cpu.clone().unwrap_or_default(),
            memory: f.memory.clone().unwrap_or_default(),
            execution_role_arn: f.execution_role_arn.clone(),
            task_role_arn: f.task_role_arn.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            port: c.port,
            log_group: c.log_group.clone(),
            health_check: c.health_check.clone(),
        })
    }
}

#[async_trait]
impl ResourceKind for EcsTaskDefinition {
    fn kind(&self) -> Kind {
        Kind::EcsTaskDefinition
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
        let Facts::EcsTaskDefinition(f) = &obs.facts else {
            return Ok(crate::resources::Stamped::Done);
        };
        for arn in &f.active {
            tag_arn(aws, arn, key, value).await?;
        }
        Ok(crate::resources::Stamped::Done)
    }

    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        use aws_sdk_ecs::types::TaskDefinitionFamilyStatus as S;
        let (prefixes, statuses): (Vec<Option<String>>, Vec<S>) = match scope {
            Scope::InVpcs(_) => return Ok(Vec::new()),
            // Families half torn down (deregistered, not deleted) are still the owner's to
            // delete: active and inactive ones, each asked for (`ALL` says the same in one call
            // on AWS, but not on every emulator).
            // The owner's names start with `awslab-<lab>-<env>-<code>-` (their first 55
            // characters are kept when a name is shortened): only those families are described.
            Scope::Owned(o) => (
                vec![Some(ecs_name(o, "").chars().take(55).collect())],
                vec![S::Active, S::Inactive],
            ),
            Scope::Owners(owners) => {
                let mut labs: Vec<String> = owners
                    .iter()
                    .map(|o| format!("awslab-{}-", o.lab).chars().take(55).collect())
                    .collect();
                labs.sort();
                labs.dedup();
                (
                    labs.into_iter().map(Some).collect(),
                    vec![S::Active, S::Inactive],
                )
            }
            Scope::AnyLab => (
                vec![Some("awslab-".to_owned())],
                vec![S::Active, S::Inactive],
            ),
            Scope::Named(names) => (names.iter().cloned().map(Some).collect(), vec![S::Active]),
            Scope::Region => (vec![None], vec![S::Active]),
        };
        let mut families = Vec::new();
        for prefix in prefixes {
            for status in &statuses {
                let found = aws
                    .ecs
                    .list_task_definition_families()
                    .set_family_prefix(prefix.clone())
                    .status(status.clone())
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(sdk(
                        "ecs:ListTaskDefinitionFamilies",
                        prefix.as_deref().unwrap_or("families"),
                    ))?;
                for f in found {
                    if !families.contains(&f) {
                        families.push(f);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for family in families {
            if let Some(o) = Self::family(aws, &family).await?
                && wanted(&o.tags, &family, scope)
            {
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
        let spec: &EcsTaskDefinitionSpec = crate::resources::spec_of(res)?;
        let image = Self::image_uri(cx, res, &spec.image).await?;
        let execution_role_arn = Self::role_arn(cx.bound, &spec.execution_role, &res.name)?;
        let task_role_arn = match &spec.task_role {
            Some(r) => Some(Self::role_arn(cx.bound, r, &res.name)?),
            None => None,
        };
        let log_group = match &spec.log_group {
            Some(l) => Some(cx.bound.require(l, &res.name)?.to_owned()),
            None => None,
        };
        let want = Wanted {
            cpu: spec.cpu.to_string(),
            memory: spec.memory.to_string(),
            execution_role_arn: Some(execution_role_arn.clone()),
            task_role_arn: task_role_arn.clone(),
            name: spec.container_name.clone(),
            image: image.clone(),
            port: Some(i32::from(spec.port)),
            log_group: log_group.clone(),
            health_check: spec.health_check.clone(),
        };
        if let Some(o) = existing
            && let Facts::EcsTaskDefinition(f) = &o.facts
            && !f.active.is_empty()
            && Wanted::of(f).as_ref() == Some(&want)
        {
            return Ok(o.clone());
        }
        let family = match existing.map(|o| &o.facts) {
            Some(Facts::EcsTaskDefinition(f)) => f.family.clone(),
            _ => ecs_name(cx.owner, &res.name),
        };
        use aws_sdk_ecs::types::{
            Compatibility, ContainerDefinition, HealthCheck, LogConfiguration, LogDriver,
            NetworkMode, PortMapping, TransportProtocol,
        };
        let mut c = ContainerDefinition::builder()
            .name(&spec.container_name)
            .image(&image)
            .essential(true)
            .port_mappings(
                PortMapping::builder()
                    .container_port(i32::from(spec.port))
                    .protocol(TransportProtocol::Tcp)
                    .build(),
            );
        if let Some(group) = &log_group {
            c = c.log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", group)
                    .options("awslogs-region", &cx.aws.region)
                    .options("awslogs-stream-prefix", &spec.container_name)
                    .build()
                    .map_err(|e| {
                        AwsError::from_fault(
                            "ecs:RegisterTaskDefinition",
                            &res.name,
                            Fault::Unbuilt(e),
                        )
                    })?,
            );
        }
        if let Some(cmd) = &spec.health_check {
            c = c.health_check(
                HealthCheck::builder()
                    .command("CMD-SHELL")
                    .command(cmd)
                    .interval(30)
                    .timeout(5)
                    .retries(3)
                    .start_period(10)
                    .build()
                    .map_err(|e| {
                        AwsError::from_fault(
                            "ecs:RegisterTaskDefinition",
                            &res.name,
                            Fault::Unbuilt(e),
                        )
                    })?,
            );
        }
        let out = cx
            .aws
            .ecs
            .register_task_definition()
            .family(&family)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu(spec.cpu.to_string())
            .memory(spec.memory.to_string())
            .execution_role_arn(&execution_role_arn)
            .set_task_role_arn(task_role_arn)
            .container_definitions(c.build())
            .set_tags(Some(ecs_tags(cx.owner, &res.name)))
            .send()
            .await
            .map_err(sdk("ecs:RegisterTaskDefinition", &res.name))?;
        let t = out.task_definition().ok_or_else(|| {
            AwsError::from_fault(
                "ecs:RegisterTaskDefinition",
                &res.name,
                Fault::NoArn {
                    what: "taskDefinitionArn",
                },
            )
        })?;
        let arn = t.task_definition_arn().unwrap_or_default().to_owned();
        let (mut active, inactive) = match existing.map(|o| &o.facts) {
            Some(Facts::EcsTaskDefinition(f)) => (f.active.clone(), f.inactive.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        active.push(arn);
        observe(t, out.tags(), active, inactive).ok_or_else(|| {
            AwsError::from_fault(
                "ecs:RegisterTaskDefinition",
                &res.name,
                Fault::NoArn { what: "family" },
            )
        })
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec![
            "launch_type",
            "network_mode",
            "size",
            "image",
            "port",
            "log_group",
            "execution_role",
            "task_role",
            "health_check",
        ]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        world: &World,
    ) -> Vec<Attr> {
        let (Spec::EcsTaskDefinition(s), Facts::EcsTaskDefinition(f)) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let c = f.containers.first();
        let none = || "none".to_owned();
        let role = |arn: &Option<String>| {
            arn.as_ref().map_or_else(none, |arn| {
                world
                    .of_kind(Kind::IamRole)
                    .find(|r| matches!(&r.facts, Facts::IamRole(IamRoleFacts { arn: a, .. }) if a == arn))
                    .map_or_else(|| arn_name(arn).to_owned(), |r| bound.label(&r.id))
            })
        };
        let (want_image, found_image) =
            image_texts(&s.image, c.map(|c| c.image.as_str()), bound, world);
        vec![
            Attr::new(
                "launch_type",
                "FARGATE",
                if f.compatibilities.iter().any(|c| c == "FARGATE") {
                    "FARGATE"
                } else {
                    "EC2 only"
                },
            ),
            Attr::new(
                "network_mode",
                "awsvpc",
                f.network_mode.clone().unwrap_or_else(none),
            ),
            Attr::new(
                "size",
                format!("{} CPU / {} MiB", s.cpu, s.memory),
                format!(
                    "{} CPU / {} MiB",
                    f.cpu.as_deref().unwrap_or("?"),
                    f.memory.as_deref().unwrap_or("?")
                ),
            ),
            Attr::new("image", want_image, found_image),
            Attr::new(
                "port",
                s.port,
                c.and_then(|c| c.port).map_or_else(none, |p| p.to_string()),
            ),
            Attr::new(
                "log_group",
                s.log_group
                    .clone()
                    .map_or_else(none, |l| format!("awslogs to {l}")),
                c.and_then(|c| {
                    let group = c.log_group.as_ref()?;
                    (c.log_driver.as_deref() == Some("awslogs"))
                        .then(|| format!("awslogs to {}", bound.label(group)))
                })
                .unwrap_or_else(none),
            ),
            Attr::new(
                "execution_role",
                &s.execution_role,
                role(&f.execution_role_arn),
            ),
            Attr::new(
                "task_role",
                s.task_role.clone().unwrap_or_else(none),
                role(&f.task_role_arn),
            ),
            Attr::new(
                "health_check",
                if s.health_check.is_some() {
                    "set"
                } else {
                    "none"
                },
                if c.and_then(|c| c.health_check.as_ref()).is_some() {
                    "set"
                } else {
                    "none"
                },
            ),
        ]
    }

    fn attr_hint(&self, res: &Resource, attr: &Attr) -> Option<String> {
        let Spec::EcsTaskDefinition(s) = &res.spec else {
            return None;
        };
        Some(match attr.key.as_str() {
            "image" => format!(
                "the container must run {} (Image URI in the task definition: the repository's URI with the image's digest), not an image from Docker Hub",
                attr.expected
            ),
            "launch_type" | "network_mode" => {
                "create the task definition for AWS Fargate (network mode awsvpc)".to_owned()
            }
            "log_group" => format!(
                "in the container's log configuration choose the awslogs driver and the log group {}",
                s.log_group.as_deref().unwrap_or("of the lab")
            ),
            "task_role" => format!("set the task role to {}", attr.expected),
            "execution_role" => format!("set the task execution role to {}", attr.expected),
            _ => return None,
        })
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::EcsTaskDefinition(f) = &obs.facts else {
            return Ok(());
        };
        for arn in &f.active {
            crate::resources::ec2util::gone_ok(
                cx.aws
                    .ecs
                    .deregister_task_definition()
                    .task_definition(arn)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk("ecs:DeregisterTaskDefinition", arn)),
            )?;
        }
        let all: Vec<String> = f.active.iter().chain(&f.inactive).cloned().collect();
        for chunk in all.chunks(10) {
            let out = cx
                .aws
                .ecs
                .delete_task_definitions()
                .set_task_definitions(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(sdk("ecs:DeleteTaskDefinitions", &obs.id))?;
            if let Some(failed) = out.failures().first() {
                return Err(AwsError::answer(
                    "ecs:DeleteTaskDefinitions",
                    failed.arn().unwrap_or(&obs.id),
                    "Failure",
                    failed.reason().unwrap_or("refused"),
                ));
            }
        }
        Ok(())
    }

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        crate::resources::named_as(o, res, names, "family", &o.id)
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        format!("no task definition family `{}`", names.of(&res.name))
    }

    fn create_hint(&self, res: &Resource, name: &str) -> String {
        format!(
            "create the task definition `{name}` (ECS -> Task definitions -> Create: launch type AWS Fargate) for `{}`",
            res.name
        )
    }

    /// Free: the tasks that run it are billed.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free: the tasks that run it are billed.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}

/// The image a task definition must run, and the one it runs, in the same words when they are
/// the same: the lab's image in this account's ECR (by digest or by its tag), or any other.
fn image_texts(
    want: &TaskImage,
    found: Option<&str>,
    bound: &Bindings,
    world: &World,
) -> (String, String) {
    let found = found.unwrap_or("none").to_owned();
    let TaskImage::Lab(name) = want else {
        let TaskImage::Uri(u) = want else {
            return (String::new(), found);
        };
        return (u.clone(), found);
    };
    let Some(Facts::Image(ImageFacts {
        repository,
        tag,
        digest,
        ..
    })) = bound.get(name).map(|o| &o.facts)
    else {
        return (format!("{name} from this account's ECR"), found);
    };
    let want_text = format!("{repository}:{tag} from this account's ECR");
    let uri = world
        .of_kind(Kind::Repository)
        .find(|r| r.id == *repository)
        .and_then(|r| match &r.facts {
            Facts::Repository(crate::resources::RepositoryFacts { uri, .. }) => Some(uri.clone()),
            _ => None,
        });
    let same = uri
        .is_some_and(|uri| found == format!("{uri}@{digest}") || found == format!("{uri}:{tag}"));
    if same {
        (want_text.clone(), want_text)
    } else if !found.contains(".dkr.ecr.") {
        (want_text, format!("{found} (not this account's ECR)"))
    } else {
        (want_text, found)
    }
}
