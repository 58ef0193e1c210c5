//! Security groups: stateful allow rules by CIDR or by group reference. Before any group of a
//! teardown is deleted, rules that reference other groups are revoked (groups that reference each
//! other could not be deleted in any order otherwise).

use crate::aws::tags::Owner;
use crate::check::FoundBy;
use crate::check::Names;
use crate::quota::Quota;
use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use serde::Serialize;

use super::ec2util::{gone_ok, scope_filters, unset_ok};
use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World, ports_text,
};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Peer, Ports, Proto, Resource, SgRule, Spec};
use toml::Spanned;

/// What a lab file declares for a security group.
#[derive(Debug, Clone)]
pub struct SecurityGroupSpec {
    pub vpc: String,
    pub description: String,
    pub ingress: Vec<crate::lab::SgRule>,
    /// `None`: the lab says nothing about egress (AWS's default allow-all stays, unchecked).
    pub egress: Option<Vec<crate::lab::SgRule>>,
}

/// What AWS says of a security group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SecurityGroupFacts {
    pub vpc_id: Option<String>,
    pub group_name: String,
    pub ingress: Vec<crate::resources::SgPermission>,
    pub egress: Vec<crate::resources::SgPermission>,
}

impl crate::resources::KindSpec for SecurityGroupSpec {
    fn refs(&self) -> Vec<&str> {
        let SecurityGroupSpec {
            vpc,
            ingress,
            egress,
            ..
        } = self;
        let mut out = vec![vpc.as_str()];
        for rule in ingress.iter().chain(egress.iter().flatten()) {
            if let Peer::Group(g) = &rule.peer {
                out.push(g);
            }
        }
        out
    }
}

impl crate::resources::KindFacts for SecurityGroupFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let SecurityGroupFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }

    fn is_vpc_default(&self) -> bool {
        let SecurityGroupFacts { group_name, .. } = self;
        group_name == "default"
    }
}

/// The keys of a `security_group` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct SecurityGroupKeys {
    /// The group's description (the key every resource may carry).
    pub description: Option<String>,
    /// The VPC the security group is in.
    #[schemars(with = "Option<String>")]
    pub vpc: Option<toml::Spanned<String>>,
    /// Inbound rules: a protocol, ports, and a CIDR or a group (`from`).
    #[schemars(with = "Option<Vec<SgRuleDef>>")]
    pub ingress: Option<Vec<toml::Spanned<SgRuleDef>>>,
    /// Outbound rules; without them the group keeps AWS's default allow-all, unchecked.
    #[schemars(with = "Option<Vec<SgRuleDef>>")]
    pub egress: Option<Vec<toml::Spanned<SgRuleDef>>>,
}

/// One rule of `ingress` or `egress` as written.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SgRuleDef {
    /// Protocol: `tcp`, `udp`, `icmp` or `all` (or its number).
    #[schemars(with = "String")]
    pub proto: Spanned<String>,
    /// One port (TCP and UDP).
    #[schemars(with = "Option<i64>")]
    pub port: Option<Spanned<i64>>,
    /// A port range, e.g. `1024-65535` (TCP and UDP).
    #[schemars(with = "Option<String>")]
    pub ports: Option<Spanned<String>>,
    /// A CIDR (`0.0.0.0/0`, may come from `${param}`).
    #[schemars(with = "Option<String>")]
    pub cidr: Option<Spanned<String>>,
    /// Logical name of a security group.
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// For egress rules: logical name of a security group.
    #[schemars(with = "Option<String>")]
    pub to: Option<Spanned<String>>,
}

impl SecurityGroupSpec {
    /// Rules of one direction: a protocol and ports, and a CIDR or a group (`from` for
    /// ingress, `to` for egress).
    fn rules(
        cx: &mut SpecCx<'_, '_, '_>,
        rules: &[Spanned<SgRuleDef>],
        egress: bool,
    ) -> Vec<SgRule> {
        let mut out = Vec::new();
        for r in rules {
            let d = r.get_ref();
            let Some(proto) = cx.proto(&d.proto) else {
                continue;
            };
            let Some(ports) = cx.ports(proto, &d.port, &d.ports, r.span()) else {
                continue;
            };
            let group = if egress { &d.to } else { &d.from };
            let wrong = if egress { &d.from } else { &d.to };
            if let Some(w) = wrong {
                let (dir, key) = if egress {
                    ("egress", "to")
                } else {
                    ("ingress", "from")
                };
                cx.error(
                    w.span(),
                    format!("{dir} rules name their peer group with `{key}`"),
                    "wrong key",
                );
                continue;
            }
            let peer = match (&d.cidr, group) {
                (Some(c), None) => match cx.cidr(c) {
                    Some(net) => Peer::Cidr(net),
                    None => continue,
                },
                (None, Some(g)) => match cx.reference(g, &[Kind::SecurityGroup]) {
                    Some(name) => Peer::Group(name),
                    None => continue,
                },
                (Some(c), Some(_)) => {
                    cx.error(
                        c.span(),
                        "a rule has either a `cidr` or a group, not both",
                        "one of them",
                    );
                    continue;
                }
                (None, None) => {
                    cx.error(
                        r.span(),
                        "a rule needs a `cidr` or a security group",
                        "in this rule",
                    );
                    continue;
                }
            };
            out.push(SgRule { proto, ports, peer });
        }
        out
    }
}

impl ParseSpec for SecurityGroupSpec {
    type Keys = SecurityGroupKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &SecurityGroupKeys) -> Self {
        let kind = Kind::SecurityGroup;
        let vpc = cx.vpc_ref(name, kind, &d.vpc);
        let ingress = Self::rules(cx, d.ingress.as_deref().unwrap_or_default(), false);
        let egress = d.egress.as_deref().map(|e| Self::rules(cx, e, true));
        SecurityGroupSpec {
            vpc: vpc.unwrap_or_default(),
            description: d
                .description
                .clone()
                .unwrap_or_else(|| format!("awslab {}", name.get_ref())),
            ingress,
            egress,
        }
    }
}

pub struct SecurityGroup;

/// One rule as AWS reports it, one peer per entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SgPermission {
    pub proto: Proto,
    pub ports: Option<Ports>,
    pub peer: SgPeer,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum SgPeer {
    Cidr(String),
    /// A security group id.
    Group(String),
}

impl SgPermission {
    pub fn describe(&self, bound: &Bindings) -> String {
        let peer = match &self.peer {
            SgPeer::Cidr(c) => c.clone(),
            SgPeer::Group(g) => format!("sg {}", bound.label(g)),
        };
        rule_text(self.proto, self.ports, &peer)
    }

    fn to_ip_permission(&self) -> IpPermission {
        let mut b = IpPermission::builder().ip_protocol(self.proto.sg_name());
        if self.proto.has_ports() {
            let p = self.ports.unwrap_or(Ports { from: 0, to: 65535 });
            b = b.from_port(i32::from(p.from)).to_port(i32::from(p.to));
        } else if self.proto == Proto::Icmp {
            b = b.from_port(-1).to_port(-1);
        }
        match &self.peer {
            SgPeer::Cidr(c) => b.ip_ranges(IpRange::builder().cidr_ip(c).build()),
            SgPeer::Group(g) => {
                b.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build())
            }
        }
        .build()
    }
}

/// `tcp 22 0.0.0.0/0`, `all sg bastion-sg`: one text for declared and found rules.
pub fn rule_text(proto: Proto, ports: Option<Ports>, peer: &str) -> String {
    if proto.has_ports() {
        format!("{proto} {} {peer}", ports_text(ports))
    } else {
        format!("{proto} {peer}")
    }
}

fn flatten(perms: &[IpPermission]) -> Vec<SgPermission> {
    let mut out = Vec::new();
    for p in perms {
        let Some(proto) = p.ip_protocol().and_then(Proto::parse) else {
            continue;
        };
        let ports = if proto.has_ports() {
            match (p.from_port(), p.to_port()) {
                (Some(f), Some(t)) if f >= 0 && t >= 0 => Some(Ports {
                    from: u16::try_from(f).unwrap_or(0),
                    to: u16::try_from(t).unwrap_or(u16::MAX),
                }),
                _ => None,
            }
        } else {
            None
        };
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                out.push(SgPermission {
                    proto,
                    ports,
                    peer: SgPeer::Cidr(c.to_owned()),
                });
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                out.push(SgPermission {
                    proto,
                    ports,
                    peer: SgPeer::Group(id.to_owned()),
                });
            }
        }
    }
    out.sort();
    out
}

fn observe(g: &aws_sdk_ec2::types::SecurityGroup) -> Option<Observed> {
    Some(Observed {
        kind: Kind::SecurityGroup,
        id: g.group_id()?.to_owned(),
        tags: from_ec2(g.tags()),
        facts: Facts::SecurityGroup(SecurityGroupFacts {
            vpc_id: g.vpc_id().map(str::to_owned),
            group_name: g.group_name().unwrap_or_default().to_owned(),
            ingress: flatten(g.ip_permissions()),
            egress: flatten(g.ip_permissions_egress()),
        }),
    })
}

/// The lab's rules with group references resolved to ids.
fn wanted(rules: &[SgRule], bound: &Bindings, of: &str) -> Result<Vec<SgPermission>, AwsError> {
    let mut out = Vec::new();
    for r in rules {
        let peer = match &r.peer {
            Peer::Cidr(c) => SgPeer::Cidr(c.to_string()),
            Peer::Group(g) => SgPeer::Group(bound.require(g, of)?.to_owned()),
        };
        out.push(SgPermission {
            proto: r.proto,
            ports: r.ports,
            peer,
        });
    }
    out.sort();
    Ok(out)
}

impl SecurityGroup {
    async fn authorize(
        cx: &ApplyCx<'_>,
        id: &str,
        egress: bool,
        perms: &[SgPermission],
        name: &str,
    ) -> Result<(), AwsError> {
        if perms.is_empty() {
            return Ok(());
        }
        let ip: Vec<IpPermission> = perms.iter().map(SgPermission::to_ip_permission).collect();
        let done = if egress {
            let req = cx
                .aws
                .ec2
                .authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(ip));
            cx.aws
                .known("ec2:AuthorizeSecurityGroupEgress", name, || {
                    req.clone().send()
                })
                .await
                .map(drop)
        } else {
            let req = cx
                .aws
                .ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(ip));
            cx.aws
                .known("ec2:AuthorizeSecurityGroupIngress", name, || {
                    req.clone().send()
                })
                .await
                .map(drop)
        };
        match done {
            // An attempt whose answer was lost already added the rules.
            Err(e) if e.aws_code() == Some("InvalidPermission.Duplicate") => Ok(()),
            other => other,
        }
    }

    /// Revokes rules of a group known to exist; a rule that is not there (any more) is fine.
    async fn revoke(
        aws: &Aws,
        id: &str,
        egress: bool,
        perms: &[SgPermission],
        name: &str,
    ) -> Result<(), AwsError> {
        if perms.is_empty() {
            return Ok(());
        }
        let ip: Vec<IpPermission> = perms.iter().map(SgPermission::to_ip_permission).collect();
        if egress {
            let req = aws
                .ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(ip));
            unset_ok(
                aws.known("ec2:RevokeSecurityGroupEgress", name, || req.clone().send())
                    .await,
            )
        } else {
            let req = aws
                .ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(ip));
            unset_ok(
                aws.known("ec2:RevokeSecurityGroupIngress", name, || {
                    req.clone().send()
                })
                .await,
            )
        }
    }
}

#[async_trait]
impl ResourceKind for SecurityGroup {
    fn kind(&self) -> Kind {
        Kind::SecurityGroup
    }

    fn quota_needs(&self, _res: &Resource, _lab: &crate::lab::Lab) -> Vec<(Quota, u32)> {
        vec![(Quota::SecurityGroups, 1)]
    }

    fn holds_what_is_inside(&self) -> bool {
        true
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
        let Some(filters) = scope_filters(scope, Some("vpc-id")) else {
            return Ok(Vec::new());
        };
        let out = aws
            .ec2
            .describe_security_groups()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeSecurityGroups", "security groups", e))?;
        Ok(out.iter().filter_map(observe).collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let SecurityGroupSpec {
            vpc,
            description,
            ingress,
            egress,
        } = crate::resources::spec_of(res)?;
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let vpc_id = cx.bound.require(vpc, &res.name)?;
                let req = cx
                    .aws
                    .ec2
                    .create_security_group()
                    .group_name(&res.name)
                    .description(description)
                    .vpc_id(vpc_id)
                    .tag_specifications(cx.owner.tag_spec(ResourceType::SecurityGroup, &res.name));
                let out = cx
                    .aws
                    .known("ec2:CreateSecurityGroup", &res.name, || req.clone().send())
                    .await?;
                let id = out.group_id().ok_or_else(|| {
                    AwsError::from_fault(
                        "ec2:CreateSecurityGroup",
                        &res.name,
                        Fault::NoId { what: "group id" },
                    )
                })?;
                // A new group has AWS's default allow-all egress rule.
                Observed {
                    kind: Kind::SecurityGroup,
                    id: id.to_owned(),
                    tags: cx.owner.tags_for(&res.name).into_iter().collect(),
                    facts: Facts::SecurityGroup(SecurityGroupFacts {
                        vpc_id: Some(vpc_id.to_owned()),
                        group_name: res.name.clone(),
                        ingress: Vec::new(),
                        egress: vec![SgPermission {
                            proto: Proto::All,
                            ports: None,
                            peer: SgPeer::Cidr("0.0.0.0/0".to_owned()),
                        }],
                    }),
                }
            }
        };
        let id = obs.id.clone();
        let Facts::SecurityGroup(SecurityGroupFacts {
            ingress: have_in,
            egress: have_out,
            ..
        }) = &mut obs.facts
        else {
            return Ok(obs);
        };
        let sides: [(bool, Option<&Vec<SgRule>>, &mut Vec<SgPermission>); 2] = [
            (false, Some(ingress), have_in),
            (true, egress.as_ref(), have_out),
        ];
        for (is_egress, rules, have) in sides {
            let Some(rules) = rules else { continue };
            let want = wanted(rules, cx.bound, &res.name)?;
            let missing: Vec<SgPermission> =
                want.iter().filter(|w| !have.contains(w)).cloned().collect();
            let extra: Vec<SgPermission> =
                have.iter().filter(|h| !want.contains(h)).cloned().collect();
            Self::authorize(cx, &id, is_egress, &missing, &res.name).await?;
            Self::revoke(cx.aws, &id, is_egress, &extra, &res.name).await?;
            *have = want;
        }
        Ok(obs)
    }

    fn attr_keys(&self, res: &Resource) -> Vec<&'static str> {
        match &res.spec {
            Spec::SecurityGroup(SecurityGroupSpec {
                egress: Some(_), ..
            }) => vec!["ingress", "egress"],
            _ => vec!["ingress"],
        }
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::SecurityGroup(SecurityGroupSpec {
                ingress, egress, ..
            }),
            Facts::SecurityGroup(SecurityGroupFacts {
                ingress: have_in,
                egress: have_out,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let list = |mut v: Vec<String>| {
            v.sort();
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join("; ")
            }
        };
        let text = |rules: &[SgRule]| {
            list(
                rules
                    .iter()
                    .map(|r| match &r.peer {
                        Peer::Cidr(c) => rule_text(r.proto, r.ports, &c.to_string()),
                        Peer::Group(g) => rule_text(r.proto, r.ports, &format!("sg {g}")),
                    })
                    .collect(),
            )
        };
        let found =
            |perms: &[SgPermission]| list(perms.iter().map(|p| p.describe(bound)).collect());
        let mut attrs = vec![Attr::new("ingress", text(ingress), found(have_in))];
        if let Some(egress) = egress {
            attrs.push(Attr::new("egress", text(egress), found(have_out)));
        }
        attrs
    }

    fn blockers(&self, obs: &Observed, world: &World) -> Vec<String> {
        // What has network interfaces in it (instances, mount targets, load balancers, tasks).
        world
            .items
            .iter()
            .filter(|o| !o.is_gone())
            .filter(|o| {
                o.facts
                    .of_kind()
                    .security_groups()
                    .contains(&obs.id.as_str())
            })
            .map(|o| o.id.clone())
            .collect()
    }

    async fn prepare_delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        let Facts::SecurityGroup(SecurityGroupFacts {
            ingress, egress, ..
        }) = &obs.facts
        else {
            return Ok(());
        };
        let refs = |v: &[SgPermission]| -> Vec<SgPermission> {
            v.iter()
                .filter(|p| matches!(p.peer, SgPeer::Group(_)))
                .cloned()
                .collect()
        };
        // Before any delete: rules another teardown revoked are fine; a group not found is
        // asked about again up to the visibility bound (it may be new), then it is gone.
        let revoked = async {
            Self::revoke(cx.aws, &obs.id, false, &refs(ingress), &obs.id).await?;
            Self::revoke(cx.aws, &obs.id, true, &refs(egress), &obs.id).await
        };
        gone_ok(revoked.await)
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ec2
                    .delete_security_group()
                    .group_id(&obs.id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:DeleteSecurityGroup", &obs.id, e))
                    .map(drop)
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
        let Facts::SecurityGroup(f) = &o.facts else {
            return None;
        };
        crate::resources::named_as(o, res, names, "group name", &f.group_name)
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
