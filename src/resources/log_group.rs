//! CloudWatch Logs log groups: where a task's containers write (the awslogs driver), with a
//! retention so that logs stop costing storage. Tagged at creation and named from the owner; a
//! hand-built one is found by the name the lab gives it.

use async_trait::async_trait;

use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, created_at};
use crate::check::{FoundBy, Names};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use toml::Spanned;

/// The retentions CloudWatch Logs accepts, in days.
const RETENTIONS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The prefix of the names awslab gives log groups.
const PREFIX: &str = "/awslab/";

/// What a lab file declares for a log group.
#[derive(Debug, Clone)]
pub struct LogGroupSpec {
    /// Days kept; `None`: kept forever.
    pub retention_days: Option<i32>,
}

/// What AWS says of a log group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogGroupFacts {
    pub retention_days: Option<i32>,
    pub stored_bytes: i64,
}

impl crate::resources::KindSpec for LogGroupSpec {
    fn refs(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl crate::resources::KindFacts for LogGroupFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        None
    }
}

/// The keys of a `log_group` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct LogGroupKeys {
    /// How many days log events are kept (1, 3, 5, 7, 14, 30, ...); without it, forever.
    #[schemars(with = "Option<i64>")]
    pub retention_days: Option<toml::Spanned<i64>>,
}

impl ParseSpec for LogGroupSpec {
    type Keys = LogGroupKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, _name: &Spanned<String>, d: &LogGroupKeys) -> Self {
        let retention_days =
            d.retention_days
                .as_ref()
                .and_then(|r| match i32::try_from(*r.get_ref()) {
                    Ok(n) if RETENTIONS.contains(&n) => Some(n),
                    _ => {
                        cx.error(
                            r.span(),
                            format!("CloudWatch Logs keeps no retention of {} days", r.get_ref()),
                            "invalid retention",
                        );
                        let all: Vec<String> = RETENTIONS.iter().map(i32::to_string).collect();
                        cx.help(format!("one of: {}", all.join(", ")));
                        None
                    }
                });
        LogGroupSpec { retention_days }
    }
}

/// The name awslab gives an owner's log group: `/awslab/<lab>/<env>/<name>`.
pub fn log_group_name(owner: &Owner, logical: &str) -> String {
    format!("{PREFIX}{}/{}/{logical}", owner.lab, owner.env)
}

pub struct LogGroup;

impl LogGroup {
    async fn tags_of(aws: &Aws, name: &str) -> Result<Tags, AwsError> {
        #[allow(deprecated)]
        let out = aws
            .logs
            .list_tags_log_group()
            .log_group_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("logs:ListTagsLogGroup", name, e))?;
        Ok(out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    async fn listed(
        aws: &Aws,
        prefix: Option<&str>,
    ) -> Result<Vec<aws_sdk_cloudwatchlogs::types::LogGroup>, AwsError> {
        aws.logs
            .describe_log_groups()
            .set_log_group_name_prefix(prefix.map(str::to_owned))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| {
                AwsError::from_sdk("logs:DescribeLogGroups", prefix.unwrap_or("log groups"), e)
            })
    }
}

fn observe(g: &aws_sdk_cloudwatchlogs::types::LogGroup, mut t: Tags) -> Option<Observed> {
    let name = g.log_group_name()?.to_owned();
    t.entry(tags::NAME.to_owned())
        .or_insert_with(|| name.clone());
    Some(Observed {
        kind: Kind::LogGroup,
        id: name,
        tags: t,
        facts: Facts::LogGroup(LogGroupFacts {
            retention_days: g.retention_in_days(),
            stored_bytes: g.stored_bytes().unwrap_or(0),
        }),
    })
}

#[async_trait]
impl ResourceKind for LogGroup {
    fn kind(&self) -> Kind {
        Kind::LogGroup
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
        #[allow(deprecated)]
        aws.known("logs:TagLogGroup", &obs.id, || {
            aws.logs
                .tag_log_group()
                .log_group_name(&obs.id)
                .tags(key, value)
                .send()
        })
        .await?;
        Ok(crate::resources::Stamped::Done)
    }

    /// awslab's own under `/awslab/`; hand-built ones by their names (each a prefix listing).
    async fn discover(&self, aws: &Aws, scope: &Scope) -> Result<Vec<Observed>, AwsError> {
        let prefixes: Vec<Option<String>> = match scope {
            Scope::InVpcs(_) => return Ok(Vec::new()),
            Scope::Owned(o) => vec![Some(format!("{PREFIX}{}/{}/", o.lab, o.env))],
            Scope::Owners(_) | Scope::AnyLab => vec![Some(PREFIX.to_owned())],
            Scope::Named(names) => names.iter().cloned().map(Some).collect(),
            Scope::Region => vec![None],
        };
        let mut out: Vec<Observed> = Vec::new();
        for prefix in prefixes {
            for g in Self::listed(aws, prefix.as_deref()).await? {
                let Some(name) = g.log_group_name() else {
                    continue;
                };
                if out.iter().any(|o| o.id == name) {
                    continue;
                }
                if let Scope::Named(names) = scope
                    && !names.iter().any(|n| n == name)
                {
                    continue;
                }
                let created = g
                    .creation_time()
                    .map(aws_smithy_types::DateTime::from_millis);
                let Some(t) = aws
                    .follow_up(created_at(created.as_ref()), || Self::tags_of(aws, name))
                    .await?
                else {
                    continue;
                };
                let keep = match scope {
                    Scope::Owned(owner) => owner.owns(&t),
                    Scope::Owners(owners) => Scope::any_owns(owners, &t),
                    Scope::AnyLab => t.contains_key(tags::LAB),
                    Scope::Named(_) => !t.contains_key(tags::LAB),
                    _ => true,
                };
                if keep && let Some(o) = observe(&g, t) {
                    out.push(o);
                }
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
        let LogGroupSpec { retention_days } = crate::resources::spec_of(res)?;
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let name = log_group_name(cx.owner, &res.name);
                let tags: std::collections::HashMap<String, String> =
                    cx.owner.tags_for(&res.name).into_iter().collect();
                let made = cx
                    .aws
                    .logs
                    .create_log_group()
                    .log_group_name(&name)
                    .set_tags(Some(tags.clone()))
                    .send()
                    .await;
                if let Err(e) = made {
                    let e = AwsError::from_sdk("logs:CreateLogGroup", &res.name, e);
                    // Made by an earlier call whose answer was lost: carried on with when it
                    // carries this owner's tags.
                    if e.aws_code() != Some("ResourceAlreadyExistsException") {
                        return Err(e);
                    }
                    let t = cx.aws.settle(|| Self::tags_of(cx.aws, &name)).await?;
                    if !cx.owner.owns(&t) {
                        return Err(AwsError::from_fault(
                            "logs:CreateLogGroup",
                            &res.name,
                            crate::aws::Fault::NotOurs {
                                what: "a log group",
                                name,
                            },
                        ));
                    }
                }
                Observed {
                    kind: Kind::LogGroup,
                    id: name,
                    tags: tags.into_iter().collect(),
                    facts: Facts::LogGroup(LogGroupFacts {
                        retention_days: None,
                        stored_bytes: 0,
                    }),
                }
            }
        };
        if let Facts::LogGroup(f) = &mut obs.facts
            && f.retention_days != *retention_days
        {
            match retention_days {
                Some(days) => {
                    cx.aws
                        .known("logs:PutRetentionPolicy", &res.name, || {
                            cx.aws
                                .logs
                                .put_retention_policy()
                                .log_group_name(&obs.id)
                                .retention_in_days(*days)
                                .send()
                        })
                        .await?;
                }
                None => {
                    cx.aws
                        .known("logs:DeleteRetentionPolicy", &res.name, || {
                            cx.aws
                                .logs
                                .delete_retention_policy()
                                .log_group_name(&obs.id)
                                .send()
                        })
                        .await?;
                }
            }
            f.retention_days = *retention_days;
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["retention_days"]
    }

    fn compare(&self, res: &Resource, obs: &Observed, _b: &Bindings, _w: &World) -> Vec<Attr> {
        let (Spec::LogGroup(s), Facts::LogGroup(f)) = (&res.spec, &obs.facts) else {
            return Vec::new();
        };
        let text =
            |d: Option<i32>| d.map_or_else(|| "never expire".to_owned(), |d| format!("{d} days"));
        vec![Attr::new(
            "retention_days",
            text(s.retention_days),
            text(f.retention_days),
        )]
    }

    fn attr_hint(&self, res: &Resource, attr: &Attr) -> Option<String> {
        (attr.key == "retention_days").then(|| {
            format!(
                "set the retention of {} to {} (CloudWatch -> Log groups -> Actions -> Edit retention setting): logs kept forever cost storage forever",
                res.name, attr.expected
            )
        })
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.aws
            .logs
            .delete_log_group()
            .log_group_name(&obs.id)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("logs:DeleteLogGroup", &obs.id, e))
    }

    fn own_name(
        &self,
        o: &Observed,
        res: &Resource,
        _owner: &Owner,
        names: &Names,
    ) -> Option<FoundBy> {
        crate::resources::named_as(o, res, names, "log group name", &o.id)
    }

    fn create_hint(&self, res: &Resource, name: &str) -> String {
        format!(
            "create the log group `{name}` (CloudWatch -> Log groups -> Create log group) for `{}`",
            res.name
        )
    }

    /// Billed by what it stores and ingests: an empty group costs nothing per hour.
    fn price(&self, res: &Resource, _lab: &crate::lab::Lab, e: &mut crate::cost::Estimate) {
        e.add(
            format!(
                "log group {} (${:.2}/GB ingested, ${:.2}/GB-month stored; empty: $0)",
                res.name,
                crate::cost::LOGS_INGEST_GB,
                crate::cost::LOGS_GB_MONTH
            ),
            0.0,
        );
    }

    fn price_observed(&self, obs: &Observed, _eips: &[&str], e: &mut crate::cost::Estimate) {
        let Facts::LogGroup(f) = &obs.facts else {
            return;
        };
        if f.stored_bytes > 0 {
            #[allow(clippy::cast_precision_loss)]
            let gb = f.stored_bytes as f64 / 1e9;
            e.add(
                format!("log group {}: {gb:.3} GB stored", obs.id),
                gb * crate::cost::LOGS_GB_MONTH / crate::cost::HOURS_PER_MONTH,
            );
        }
    }
}
