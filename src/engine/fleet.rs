//! Lab environments as the tags describe them, across labs, envs and regions: what `status`
//! shows and `sweep` deletes. One describe per kind per region, filtered by the `awslab:lab` tag
//! key; grouping and expiry are read from the tags alone, so they work after any crash.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::discover;
use crate::aws::tags::{self, Owner};
use crate::aws::{Aws, AwsError};
use crate::cost;
use crate::lab::Kind;
use crate::resources::{Observed, Scope, Stamped, Unlisted, autoscaling};

/// One lab environment in one region.
#[derive(Debug, Clone, Serialize)]
pub struct EnvStatus {
    pub lab: String,
    pub env: String,
    pub region: String,
    /// Resources still alive (terminated instances and deleted NAT gateways are history).
    pub resources: usize,
    /// The earliest `awslab:created-at`, RFC 3339.
    pub created_at: Option<String>,
    /// The earliest `awslab:expires-at` of the resources the lab declares, RFC 3339 (instances
    /// an Auto Scaling group launched keep the stamp they launched with: their group's counts).
    pub expires_at: Option<String>,
    /// `awslab:expires-at` tags that are not a time: ignored for the expiry, shown.
    pub unreadable_expiry: Vec<UnreadableStamp>,
    pub per_hour: f64,
    /// Estimated dollars spent so far: each resource's price per hour times the hours since its
    /// `awslab:created-at` (from awslab's price table: no billing delay).
    pub spent: f64,
    /// Dollars the env may cost (`awslab:budget`), the lowest its resources carry.
    pub budget: Option<f64>,
    /// The account, when several are looked at (`--roster`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Storage that bills until it is deleted (snapshots), per kind: the charge students miss.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<KeptStorage>,
    #[serde(skip)]
    pub items: Vec<Observed>,
}

/// Resources of one kind whose storage bills until they are deleted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeptStorage {
    /// The kind's name in messages ("EBS snapshot").
    pub what: &'static str,
    pub count: usize,
    pub gib: i64,
    /// Estimated dollars per month.
    pub per_month: f64,
}

/// The resources of `items` whose storage bills until they are deleted, per kind.
fn kept(items: &[Observed]) -> Vec<KeptStorage> {
    let prices = cost::per_item(items);
    let mut out: Vec<KeptStorage> = Vec::new();
    for (o, per_hour) in items.iter().zip(prices) {
        let Some(gib) = o.kept_gib() else { continue };
        let what = o.kind.label();
        let per_month = per_hour * cost::HOURS_PER_MONTH;
        match out.iter_mut().find(|k| k.what == what) {
            Some(k) => {
                k.count += 1;
                k.gib += i64::from(gib);
                k.per_month += per_month;
            }
            None => out.push(KeptStorage {
                what,
                count: 1,
                gib: i64::from(gib),
                per_month,
            }),
        }
    }
    out
}

/// A stamp that is not a time, on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableStamp {
    pub id: String,
    /// The resource's logical name (or `Name`), for messages.
    pub name: String,
    pub value: String,
}

/// The last second an RFC 3339 stamp can hold (9999-12-31T23:59:59Z).
const LAST_STAMP: u64 = 253_402_300_799;

/// The expiry `--ttl` gives from `now` cannot be written as a stamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the expiry would be after 9999-12-31T23:59:59Z, the latest time `awslab:expires-at` can hold"
)]
pub struct TtlTooLong;

/// The `awslab:expires-at` stamp of a TTL from `now`.
pub fn expiry(now: SystemTime, ttl: Duration) -> Result<String, TtlTooLong> {
    let last = SystemTime::UNIX_EPOCH + Duration::from_secs(LAST_STAMP);
    match now.checked_add(ttl) {
        Some(at) if at <= last => Ok(timestamp(at)),
        _ => Err(TtlTooLong),
    }
}

/// The earliest of some stamps that are times, and those that are not.
fn earliest<'a>(
    stamps: impl Iterator<Item = (&'a Observed, &'a String)>,
) -> (Option<String>, Vec<UnreadableStamp>) {
    let mut min: Option<SystemTime> = None;
    let mut unreadable = Vec::new();
    for (o, value) in stamps {
        match humantime::parse_rfc3339_weak(value) {
            Ok(t) => min = Some(min.map_or(t, |m| m.min(t))),
            Err(_) => unreadable.push(UnreadableStamp {
                id: o.id.clone(),
                name: label(o),
                value: value.clone(),
            }),
        }
    }
    (min.map(timestamp), unreadable)
}

/// A label for messages: the logical name, else the `Name` tag, else the id.
fn label(o: &Observed) -> String {
    o.tags
        .get(tags::RESOURCE)
        .or_else(|| o.tags.get(tags::NAME))
        .cloned()
        .unwrap_or_else(|| o.id.clone())
}

impl EnvStatus {
    pub fn owner(&self) -> Owner {
        Owner::new(&self.lab, &self.env)
    }

    pub fn expired(&self, now: SystemTime) -> bool {
        self.expires_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .is_some_and(|t| t <= now)
    }

    /// The estimated spend has reached the budget.
    pub fn over_budget(&self) -> bool {
        self.budget.is_some_and(|b| self.spent >= b)
    }

    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        let created = humantime::parse_rfc3339_weak(self.created_at.as_deref()?).ok()?;
        now.duration_since(created).ok()
    }
}

/// Still costing or still in the way.
fn alive(o: &Observed) -> bool {
    !o.is_gone()
}

/// IAM is global: its kinds are listed once per command, not per region.
fn is_global(k: Kind) -> bool {
    k.handler().placement() == crate::resources::Placement::Global
}

/// The region of IAM leftovers whose env no region has.
pub const GLOBAL: &str = "global";

/// The lab environments in the client's region (regional resources only; [`place_iam`] adds
/// their IAM), and the kinds that could not be listed there.
pub async fn environments(aws: &Aws) -> Result<(Vec<EnvStatus>, Vec<Unlisted>), AwsError> {
    let kinds: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| !is_global(*k))
        .collect();
    let (items, unlisted) = discover::scope_partial(aws, &kinds, &Scope::AnyLab).await?;
    Ok((group(items, &aws.region), unlisted))
}

/// The IAM roles and instance profiles of every lab environment, listed once.
pub async fn iam(aws: &Aws) -> Result<Vec<Observed>, AwsError> {
    let kinds: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| is_global(*k))
        .collect();
    discover::scope(aws, &kinds, &Scope::AnyLab).await
}

/// `envs` (of the regions `looked_at`) with their IAM: what a region made goes to that region's
/// environment (listed for it even if nothing else is left there). The rest (IAM made before
/// awslab kept IAM per region, or made in a region not looked at) is a leftover only when every
/// region was looked at (`all_regions`) and no region has its env: then it is listed as region
/// [`GLOBAL`]. Otherwise it is not listed: its env may be up where nobody looked.
pub fn place_iam(
    envs: Vec<EnvStatus>,
    iam: Vec<Observed>,
    looked_at: &[String],
    all_regions: bool,
) -> Vec<EnvStatus> {
    let mut by_region: BTreeMap<String, Vec<Observed>> =
        looked_at.iter().map(|r| (r.clone(), Vec::new())).collect();
    for e in envs {
        by_region.entry(e.region).or_default().extend(e.items);
    }
    let mut rest = Vec::new();
    for o in iam {
        match crate::resources::iam::region_of(&o) {
            Some(r) if looked_at.iter().any(|l| l == r) => {
                by_region.entry(r.to_owned()).or_default().push(o);
            }
            _ => rest.push(o),
        }
    }
    let mut out: Vec<EnvStatus> = by_region
        .into_iter()
        .flat_map(|(region, items)| group(items, &region))
        .collect();
    if all_regions {
        let leftovers: Vec<EnvStatus> = group(rest, GLOBAL)
            .into_iter()
            .filter(|g| !out.iter().any(|e| e.lab == g.lab && e.env == g.env))
            .collect();
        out.extend(leftovers);
    }
    out
}

/// What `items` have cost by `now`: each one's price per hour times the hours since its own
/// `awslab:created-at`, else since the env's.
fn spent(items: &[Observed], env_created: Option<SystemTime>, now: SystemTime) -> f64 {
    let prices = cost::per_item(items);
    items
        .iter()
        .zip(prices)
        .map(|(o, per_hour)| {
            let since = o
                .tags
                .get(tags::CREATED)
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                .or(env_created);
            let hours = since
                .and_then(|t| now.duration_since(t).ok())
                .map_or(0.0, |d| d.as_secs_f64() / 3600.0);
            per_hour * hours
        })
        .sum()
}

/// The lowest `awslab:budget` of `items` that is a number.
fn budget<'a>(items: impl Iterator<Item = &'a Observed>) -> Option<f64> {
    items
        .filter_map(|o| o.tags.get(tags::BUDGET)?.parse::<f64>().ok())
        .filter(|b| b.is_finite() && *b >= 0.0)
        .reduce(f64::min)
}

fn group(items: Vec<Observed>, region: &str) -> Vec<EnvStatus> {
    group_at(items, region, SystemTime::now())
}

fn group_at(items: Vec<Observed>, region: &str, now: SystemTime) -> Vec<EnvStatus> {
    let mut groups: BTreeMap<(String, String), Vec<Observed>> = BTreeMap::new();
    for o in items.into_iter().filter(alive) {
        // Filtered client-side too: one emulator ignores some filters.
        let (Some(lab), Some(env)) = (o.tags.get(tags::LAB), o.tags.get(tags::ENV)) else {
            continue;
        };
        groups
            .entry((lab.clone(), env.clone()))
            .or_default()
            .push(o);
    }
    groups
        .into_iter()
        .map(|((lab, env), items)| {
            // What the lab declares: not the instances a group launched.
            let launched = autoscaling::launched_instances(&items);
            let stamps = |key: &'static str| {
                items
                    .iter()
                    .filter(|o| !launched.contains(o.id.as_str()))
                    .filter_map(move |o| Some((o, o.tags.get(key)?)))
            };
            let (created_at, _) = earliest(stamps(tags::CREATED));
            let (expires_at, unreadable_expiry) = earliest(stamps(tags::EXPIRES));
            let created = created_at
                .as_deref()
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
            EnvStatus {
                spent: spent(&items, created, now),
                budget: budget(items.iter().filter(|o| !launched.contains(o.id.as_str()))),
                account: None,
                created_at,
                expires_at,
                unreadable_expiry,
                per_hour: cost::of_observed(&items).per_hour(),
                kept: kept(&items),
                // What hangs off a parent (a bucket's policy, a load balancer's listener) is
                // not counted as a resource of its own.
                resources: items
                    .iter()
                    .filter(|o| !o.kind.listed_with_parent())
                    .count(),
                region: region.to_owned(),
                lab,
                env,
                items,
            }
        })
        .collect()
}

/// The regions enabled for the account (`ec2:DescribeRegions`).
pub async fn regions(aws: &Aws) -> Result<Vec<String>, AwsError> {
    let out = aws
        .ec2
        .describe_regions()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeRegions", &aws.region, e))?;
    let mut names: Vec<String> = out
        .regions()
        .iter()
        .filter_map(|r| r.region_name().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// Tags what exists with an expiry (`up --ttl` on an environment that is already up): each
/// kind through its own service ([`crate::resources::ResourceKind::stamp`]); EC2 resources
/// together, in calls of up to 1000 ids.
pub async fn stamp(aws: &Aws, items: &[Observed], key: &str, value: &str) -> Result<(), AwsError> {
    let mut ec2_ids = Vec::new();
    for o in items {
        if o.kind.handler().stamp(aws, o, key, value).await? == Stamped::Ec2 {
            ec2_ids.push(o.id.clone());
        }
    }
    for chunk in ec2_ids.chunks(1000) {
        let what = format!("{} resources ({}, ...)", chunk.len(), chunk[0]);
        aws.known("ec2:CreateTags", &what, || {
            aws.ec2
                .create_tags()
                .set_resources(Some(chunk.to_vec()))
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build(),
                )
                .send()
        })
        .await?;
    }
    Ok(())
}

/// RFC 3339 in UTC, to the second.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Facts;
    use crate::resources::{AutoScalingGroupFacts, IamRoleFacts, InstanceFacts, VpcFacts};

    fn env(created: Option<&str>, expires: Option<&str>) -> EnvStatus {
        EnvStatus {
            lab: "l".into(),
            env: "e".into(),
            region: "us-east-1".into(),
            resources: 1,
            created_at: created.map(Into::into),
            expires_at: expires.map(Into::into),
            unreadable_expiry: Vec::new(),
            per_hour: 0.0,
            spent: 0.0,
            budget: None,
            account: None,
            kept: Vec::new(),
            items: Vec::new(),
        }
    }

    fn owned(kind: Kind, id: &str, env: &str, region: Option<&str>) -> Observed {
        let mut tags = crate::aws::tags::Owner::new("l", env).child_tags(id);
        if let Some(r) = region {
            tags.insert(crate::resources::iam::REGION.to_owned(), r.to_owned());
        }
        let facts = match kind {
            Kind::Vpc => crate::resources::Facts::Vpc(VpcFacts {
                cidr: None,
                dns_hostnames: None,
                is_default: false,
            }),
            _ => crate::resources::Facts::IamRole(IamRoleFacts {
                arn: String::new(),
                trust: String::new(),
                policies: Vec::new(),
                inline: None,
            }),
        };
        Observed {
            kind,
            id: id.to_owned(),
            tags,
            facts,
        }
    }

    #[test]
    fn spend_counts_each_resource_from_its_own_stamp_and_the_budget_is_the_lowest() {
        use crate::resources::ElasticIpFacts;
        let now = humantime::parse_rfc3339("2026-11-23T12:00:00Z").expect("time");
        let eip = |id: &str, created: Option<&str>, budget: Option<&str>| {
            let mut o = owned(Kind::Vpc, id, "a", None);
            o.kind = Kind::ElasticIp;
            o.facts = crate::resources::Facts::ElasticIp(ElasticIpFacts {
                public_ip: Some(format!("198.51.100.{}", id.len())),
                association_id: None,
            });
            if let Some(c) = created {
                o.tags.insert(tags::CREATED.into(), c.into());
            }
            if let Some(b) = budget {
                o.tags.insert(tags::BUDGET.into(), b.into());
            }
            o
        };
        let per_hour = cost::per_item(&[eip("e", None, None)])[0];
        assert!(per_hour > 0.0);
        // One address up 2 hours, one 30 minutes, one with no stamp of its own: the env's.
        let items = vec![
            eip("e1", Some("2026-11-23T10:00:00Z"), Some("5")),
            eip("e22", Some("2026-11-23T11:30:00Z"), Some("2.50")),
            eip("e333", None, Some("not a number")),
        ];
        let env_created = humantime::parse_rfc3339("2026-11-23T11:00:00Z").ok();
        let got = spent(&items, env_created, now);
        let want = per_hour * (2.0 + 0.5 + 1.0);
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        assert_eq!(budget(items.iter()), Some(2.5));
        let env = group_at(items, "us-east-1", now).pop().expect("one env");
        assert_eq!(env.budget, Some(2.5));
        assert!(!env.over_budget());
        assert!(EnvStatus { spent: 2.5, ..env }.over_budget());
    }

    #[test]
    fn iam_goes_to_its_region_and_is_a_leftover_only_when_every_region_was_looked_at() {
        let looked_at = vec!["eu-west-1".to_owned()];
        let envs = group(vec![owned(Kind::Vpc, "vpc-1", "a", None)], "eu-west-1");
        let iam = vec![
            // Env a's role of this region, env b's (nothing else left here), env c's of a
            // region not looked at, env a's and env d's global ones.
            owned(Kind::IamRole, "role-a", "a", Some("eu-west-1")),
            owned(Kind::IamRole, "role-b", "b", Some("eu-west-1")),
            owned(Kind::IamRole, "role-c", "c", Some("us-east-1")),
            owned(Kind::IamRole, "role-a-old", "a", None),
            owned(Kind::IamRole, "role-d-old", "d", None),
        ];
        let rows = |all: bool| {
            let mut r: Vec<(String, String, usize)> =
                place_iam(envs.clone(), iam.clone(), &looked_at, all)
                    .into_iter()
                    .map(|e| (e.env, e.region, e.resources))
                    .collect();
            r.sort();
            r
        };
        let row = |env: &str, region: &str, n: usize| (env.to_owned(), region.to_owned(), n);
        assert_eq!(
            rows(false),
            vec![row("a", "eu-west-1", 2), row("b", "eu-west-1", 1)]
        );
        // Every region looked at (here: only eu-west-1 is enabled): env c's role was made in a
        // region that is not, and env d has no region left.
        assert_eq!(
            rows(true),
            vec![
                row("a", "eu-west-1", 2),
                row("b", "eu-west-1", 1),
                row("c", GLOBAL, 1),
                row("d", GLOBAL, 1),
            ]
        );
    }

    #[test]
    fn expiry_and_age_from_tags() {
        let now = humantime::parse_rfc3339("2026-11-23T12:00:00Z").expect("time");
        let e = env(Some("2026-11-23T09:00:00Z"), Some("2026-11-23T11:59:59Z"));
        assert!(e.expired(now));
        assert_eq!(e.age(now), Some(Duration::from_secs(3 * 3600)));
        assert!(!env(None, Some("2026-11-23T12:00:01Z")).expired(now));
        // No expiry tag: never expired; an unreadable one neither (sweep deletes only what it
        // can prove expired).
        assert!(!env(None, None).expired(now));
        assert!(!env(None, Some("tomorrow")).expired(now));
        assert_eq!(timestamp(now), "2026-11-23T12:00:00Z");
    }

    #[test]
    fn a_ttl_must_end_where_a_stamp_can_say() {
        let now = humantime::parse_rfc3339("2026-11-23T12:00:00Z").expect("time");
        assert_eq!(
            expiry(now, Duration::from_secs(3 * 3600)),
            Ok("2026-11-23T15:00:00Z".to_owned())
        );
        let ten_thousand_years = humantime::parse_duration("10000y").expect("duration");
        assert_eq!(expiry(now, ten_thousand_years), Err(TtlTooLong));
        assert_eq!(expiry(now, Duration::MAX), Err(TtlTooLong));
    }

    fn tagged(kind: Kind, id: &str, facts: Facts, tags: &[(&str, &str)]) -> Observed {
        let mut t: crate::aws::tags::Tags = [
            (tags::LAB.to_owned(), "l".to_owned()),
            (tags::ENV.to_owned(), "e".to_owned()),
        ]
        .into_iter()
        .collect();
        t.extend(tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Observed {
            kind,
            id: id.to_owned(),
            tags: t,
            facts,
        }
    }

    fn instance(id: &str, expires: &str, extra: &[(&str, &str)]) -> Observed {
        let facts = Facts::Instance(InstanceFacts {
            image_id: None,
            az: None,
            launch_template: None,
            vpc_id: None,
            subnet_id: None,
            state: "running".to_owned(),
            instance_type: "t3.micro".to_owned(),
            security_groups: Vec::new(),
            key_name: None,
            public_ip: None,
            private_ip: None,
            instance_profile: None,
        });
        let mut t = vec![(tags::EXPIRES, expires)];
        t.extend_from_slice(extra);
        tagged(Kind::Instance, id, facts, &t)
    }

    #[test]
    fn the_expiry_is_the_earliest_time_the_declared_resources_say() {
        let asg = Facts::AutoScalingGroup(AutoScalingGroupFacts {
            vpc_id: None,
            subnets: Vec::new(),
            min_size: 1,
            max_size: 2,
            desired_capacity: 1,
            target_groups: Vec::new(),
            health_check_type: "EC2".to_owned(),
            launch_template: None,
            instances: vec![crate::resources::GroupInstance {
                id: "i-listed".to_owned(),
                az: None,
                lifecycle: "InService".to_owned(),
                health: "Healthy".to_owned(),
            }],
            status: None,
        });
        let vpc = Facts::Vpc(VpcFacts {
            cidr: None,
            dns_hostnames: None,
            is_default: false,
        });
        let items = vec![
            tagged(
                Kind::AutoScalingGroup,
                "web-asg",
                asg,
                &[(tags::EXPIRES, "2026-11-23T18:00:00Z")],
            ),
            // Launched before the extension, by the group: their stamps are the group's.
            instance("i-listed", "2026-11-23T13:00:00Z", &[]),
            instance(
                "i-tagged",
                "2026-11-23T13:00:00Z",
                &[("aws:autoscaling:groupName", "web-asg")],
            ),
            // Declared: counts.
            instance("i-bastion", "2026-11-23T17:00:00Z", &[]),
            // Not a time: shown, and it hides nothing (as a string, `1h` sorts first).
            tagged(
                Kind::Vpc,
                "vpc-1",
                vpc,
                &[(tags::EXPIRES, "1h"), (tags::RESOURCE, "lab-vpc")],
            ),
        ];
        let env = group(items, "us-east-1").pop().expect("one env");
        assert_eq!(env.expires_at.as_deref(), Some("2026-11-23T17:00:00Z"));
        assert_eq!(
            env.unreadable_expiry,
            vec![UnreadableStamp {
                id: "vpc-1".to_owned(),
                name: "lab-vpc".to_owned(),
                value: "1h".to_owned(),
            }]
        );
        let now = humantime::parse_rfc3339("2026-11-23T14:00:00Z").expect("time");
        assert!(!env.expired(now));
    }
}
