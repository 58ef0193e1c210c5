//! Network ACLs: numbered, stateless allow/deny entries in both directions, and the subnets they
//! guard. On deletion their subnets go back to the VPC's default ACL first.

use crate::aws::tags::Owner;
use crate::check::Names;
use crate::lab::Lab;
use async_trait::async_trait;
use aws_sdk_ec2::types::{PortRange, ResourceType, RuleAction};
use serde::Serialize;

use super::ec2util::{filter, scope_filters};
use super::{
    ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World, ports_text,
};
use crate::aws::tags::from_ec2;
use crate::aws::{Aws, AwsError, Fault};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Action, Kind, NaclRule, Ports, Proto, Resource, Spec};
use toml::Spanned;

/// What a lab file declares for a network ACL.
#[derive(Debug, Clone)]
pub struct NetworkAclSpec {
    pub vpc: String,
    pub subnets: Vec<String>,
    pub inbound: Vec<crate::lab::NaclRule>,
    pub outbound: Vec<crate::lab::NaclRule>,
}

/// What AWS says of a network ACL.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NetworkAclFacts {
    pub vpc_id: Option<String>,
    pub is_default: bool,
    /// (association id, subnet id).
    pub associations: Vec<(String, String)>,
    pub entries: Vec<crate::resources::NaclEntry>,
}

impl crate::resources::KindSpec for NetworkAclSpec {
    fn refs(&self) -> Vec<&str> {
        let NetworkAclSpec { vpc, subnets, .. } = self;
        let mut out = vec![vpc.as_str()];
        out.extend(subnets.iter().map(String::as_str));
        out
    }
}

impl crate::resources::KindFacts for NetworkAclFacts {
    fn vpc_id<'a>(&'a self, _id: &'a str) -> Option<&'a str> {
        let NetworkAclFacts { vpc_id, .. } = self;
        vpc_id.as_deref()
    }

    fn is_vpc_default(&self) -> bool {
        let NetworkAclFacts { is_default, .. } = self;
        *is_default
    }
}

/// The keys of a `network_acl` table in a lab file.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct NetworkAclKeys {
    /// The VPC the network ACL is in.
    #[schemars(with = "Option<String>")]
    pub vpc: Option<toml::Spanned<String>>,
    /// Subnets associated with the network ACL.
    #[schemars(with = "Option<Vec<String>>")]
    pub subnets: Option<Vec<toml::Spanned<String>>>,
    /// Inbound rules, evaluated in rule-number order (stateless: allow the replies too).
    #[schemars(with = "Option<Vec<NaclRuleDef>>")]
    pub inbound: Option<Vec<toml::Spanned<NaclRuleDef>>>,
    /// Outbound rules, evaluated in rule-number order.
    #[schemars(with = "Option<Vec<NaclRuleDef>>")]
    pub outbound: Option<Vec<toml::Spanned<NaclRuleDef>>>,
}

/// One entry of `inbound` or `outbound` as written.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NaclRuleDef {
    /// Rule number (1-32766): lower numbers are evaluated first.
    #[schemars(with = "i64")]
    pub rule: Spanned<i64>,
    /// `allow` (the default) or `deny`.
    #[serde(default = "default_allow")]
    #[schemars(with = "String")]
    pub action: Spanned<String>,
    /// Protocol: `tcp`, `udp`, `icmp` or `all` (or its number).
    #[schemars(with = "String")]
    pub proto: Spanned<String>,
    /// One port (TCP and UDP).
    #[schemars(with = "Option<i64>")]
    pub port: Option<Spanned<i64>>,
    /// A port range, e.g. `1024-65535` (TCP and UDP).
    #[schemars(with = "Option<String>")]
    pub ports: Option<Spanned<String>>,
    /// The source (inbound) or destination (outbound) CIDR.
    #[schemars(with = "String")]
    pub cidr: Spanned<String>,
}

fn default_allow() -> Spanned<String> {
    Spanned::new(0..0, "allow".to_owned())
}

impl NetworkAclSpec {
    /// Entries of one direction: numbers 1-32766, each once.
    fn rules(cx: &mut SpecCx<'_, '_, '_>, rules: &[Spanned<NaclRuleDef>]) -> Vec<NaclRule> {
        let mut out = Vec::new();
        let mut numbers = std::collections::BTreeSet::new();
        for r in rules {
            let d = r.get_ref();
            let n = *d.rule.get_ref();
            if !(1..=32766).contains(&n) {
                cx.error(
                    d.rule.span(),
                    format!("rule number {n} is outside 1-32766"),
                    "invalid rule number",
                );
                continue;
            }
            if !numbers.insert(n) {
                cx.error(
                    d.rule.span(),
                    format!("rule number {n} is used twice in this direction"),
                    "duplicate",
                );
                continue;
            }
            let action = match d.action.get_ref().as_str() {
                "allow" => Action::Allow,
                "deny" => Action::Deny,
                other => {
                    cx.error(
                        d.action.span(),
                        format!("action `{other}` must be allow or deny"),
                        "invalid action",
                    );
                    continue;
                }
            };
            let Some(proto) = cx.proto(&d.proto) else {
                continue;
            };
            let Some(ports) = cx.ports(proto, &d.port, &d.ports, r.span()) else {
                continue;
            };
            let Some(cidr) = cx.cidr(&d.cidr) else {
                continue;
            };
            out.push(NaclRule {
                rule: i32::try_from(n).unwrap_or(0),
                action,
                proto,
                ports,
                cidr,
            });
        }
        out
    }
}

impl ParseSpec for NetworkAclSpec {
    type Keys = NetworkAclKeys;

    fn parse(cx: &mut SpecCx<'_, '_, '_>, name: &Spanned<String>, d: &NetworkAclKeys) -> Self {
        let kind = Kind::NetworkAcl;
        let vpc = cx.vpc_ref(name, kind, &d.vpc);
        let subnets = cx.subnet_refs(&d.subnets);
        let inbound = Self::rules(cx, d.inbound.as_deref().unwrap_or_default());
        let outbound = Self::rules(cx, d.outbound.as_deref().unwrap_or_default());
        NetworkAclSpec {
            vpc: vpc.unwrap_or_default(),
            subnets,
            inbound,
            outbound,
        }
    }
}

pub struct NetworkAcl;

/// The rule number of AWS's implicit deny-all entry.
pub const DEFAULT_RULE: i32 = 32767;

/// An entry as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NaclEntry {
    pub rule: i32,
    pub egress: bool,
    pub action: Action,
    /// Protocol number as EC2 reports it (`-1`, `6`, `17`, `1`).
    pub proto: String,
    pub ports: Option<Ports>,
    pub cidr: String,
}

impl NaclEntry {
    pub fn from_rule(r: &NaclRule, egress: bool) -> Self {
        NaclEntry {
            rule: r.rule,
            egress,
            action: r.action,
            proto: r.proto.number().to_owned(),
            ports: r.ports,
            cidr: r.cidr.to_string(),
        }
    }

    pub fn proto(&self) -> Option<Proto> {
        Proto::parse(&self.proto)
    }

    /// `100 allow tcp 1024-65535 0.0.0.0/0`.
    pub fn describe(&self) -> String {
        let proto = self
            .proto()
            .map_or_else(|| self.proto.clone(), |p| p.to_string());
        let ports = if self.proto().is_some_and(Proto::has_ports) {
            format!(" {}", ports_text(self.ports))
        } else {
            String::new()
        };
        format!("{} {} {proto}{ports} {}", self.rule, self.action, self.cidr)
    }
}

fn observe(a: &aws_sdk_ec2::types::NetworkAcl) -> Option<Observed> {
    let entries = a
        .entries()
        .iter()
        .filter_map(|e| {
            let proto = e.protocol()?.to_owned();
            let has_ports = Proto::parse(&proto).is_some_and(Proto::has_ports);
            Some(NaclEntry {
                rule: e.rule_number()?,
                egress: e.egress().unwrap_or(false),
                action: if e.rule_action().is_some_and(|r| *r == RuleAction::Deny) {
                    Action::Deny
                } else {
                    Action::Allow
                },
                ports: if has_ports {
                    e.port_range().map(|p| Ports {
                        from: u16::try_from(p.from().unwrap_or(0)).unwrap_or(0),
                        to: u16::try_from(p.to().unwrap_or(65535)).unwrap_or(u16::MAX),
                    })
                } else {
                    None
                },
                proto,
                cidr: e.cidr_block().unwrap_or("::/0").to_owned(),
            })
        })
        .collect();
    Some(Observed {
        kind: Kind::NetworkAcl,
        id: a.network_acl_id()?.to_owned(),
        tags: from_ec2(a.tags()),
        facts: Facts::NetworkAcl(NetworkAclFacts {
            vpc_id: a.vpc_id().map(str::to_owned),
            is_default: a.is_default().unwrap_or(false),
            associations: a
                .associations()
                .iter()
                .filter_map(|x| {
                    Some((
                        x.network_acl_association_id()?.to_owned(),
                        x.subnet_id()?.to_owned(),
                    ))
                })
                .collect(),
            entries,
        }),
    })
}

impl NetworkAcl {
    async fn put_entry(
        cx: &ApplyCx<'_>,
        acl: &str,
        e: &NaclEntry,
        replace: bool,
        name: &str,
    ) -> Result<(), AwsError> {
        let action = match e.action {
            Action::Allow => RuleAction::Allow,
            Action::Deny => RuleAction::Deny,
        };
        let ports = e.ports.map(|p| {
            PortRange::builder()
                .from(i32::from(p.from))
                .to(i32::from(p.to))
                .build()
        });
        if replace {
            let req = cx
                .aws
                .ec2
                .replace_network_acl_entry()
                .network_acl_id(acl)
                .rule_number(e.rule)
                .egress(e.egress)
                .protocol(&e.proto)
                .rule_action(action)
                .cidr_block(&e.cidr)
                .set_port_range(ports);
            cx.aws
                .known("ec2:ReplaceNetworkAclEntry", name, || req.clone().send())
                .await?;
        } else {
            let req = cx
                .aws
                .ec2
                .create_network_acl_entry()
                .network_acl_id(acl)
                .rule_number(e.rule)
                .egress(e.egress)
                .protocol(&e.proto)
                .rule_action(action)
                .cidr_block(&e.cidr)
                .set_port_range(ports);
            cx.aws
                .known("ec2:CreateNetworkAclEntry", name, || req.clone().send())
                .await?;
        }
        Ok(())
    }
}

/// The id of a subnet's network ACL association. On AWS every subnet has one (the default ACL's
/// at first); one that is not listed is not visible yet, answered as not found.
async fn current_association(
    cx: &ApplyCx<'_>,
    subnet_id: &str,
    name: &str,
) -> Result<String, AwsError> {
    let current = cx
        .aws
        .ec2
        .describe_network_acls()
        .filters(filter("association.subnet-id", [subnet_id]))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2:DescribeNetworkAcls", name, e))?;
    current
        .network_acls()
        .iter()
        .flat_map(|a| a.associations())
        .find(|a| a.subnet_id() == Some(subnet_id))
        .and_then(|a| a.network_acl_association_id())
        .map(str::to_owned)
        .ok_or_else(|| {
            AwsError::from_fault(
                "ec2:DescribeNetworkAcls",
                name,
                Fault::NoAclAssociation {
                    subnet_id: subnet_id.to_owned(),
                },
            )
        })
}

#[async_trait]
impl ResourceKind for NetworkAcl {
    fn kind(&self) -> Kind {
        Kind::NetworkAcl
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
            .describe_network_acls()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsError::from_sdk("ec2:DescribeNetworkAcls", "network ACLs", e))?;
        Ok(out.iter().filter_map(observe).collect())
    }

    async fn apply(
        &self,
        cx: &ApplyCx<'_>,
        res: &Resource,
        existing: Option<&Observed>,
    ) -> Result<Observed, AwsError> {
        let NetworkAclSpec {
            vpc,
            subnets,
            inbound,
            outbound,
        } = crate::resources::spec_of(res)?;
        let mut obs = match existing {
            Some(o) => o.clone(),
            None => {
                let vpc_id = cx.bound.require(vpc, &res.name)?;
                let req = cx
                    .aws
                    .ec2
                    .create_network_acl()
                    .vpc_id(vpc_id)
                    .client_token(cx.owner.client_token(&res.name))
                    .tag_specifications(cx.owner.tag_spec(ResourceType::NetworkAcl, &res.name));
                let out = cx
                    .aws
                    .known("ec2:CreateNetworkAcl", &res.name, || req.clone().send())
                    .await?;
                out.network_acl().and_then(observe).ok_or_else(|| {
                    AwsError::from_fault(
                        "ec2:CreateNetworkAcl",
                        &res.name,
                        Fault::NoId { what: "ACL" },
                    )
                })?
            }
        };
        let id = obs.id.clone();
        let Facts::NetworkAcl(NetworkAclFacts {
            entries,
            associations,
            ..
        }) = &mut obs.facts
        else {
            return Ok(obs);
        };
        let want: Vec<NaclEntry> = inbound
            .iter()
            .map(|r| NaclEntry::from_rule(r, false))
            .chain(outbound.iter().map(|r| NaclEntry::from_rule(r, true)))
            .collect();
        for w in &want {
            let current = entries
                .iter()
                .find(|e| e.rule == w.rule && e.egress == w.egress);
            if current == Some(w) {
                continue;
            }
            Self::put_entry(cx, &id, w, current.is_some(), &res.name).await?;
        }
        // Entries the lab does not declare would open more than it teaches: remove them.
        for extra in entries.iter().filter(|e| {
            e.rule != DEFAULT_RULE
                && !want
                    .iter()
                    .any(|w| w.rule == e.rule && w.egress == e.egress)
        }) {
            let req = cx
                .aws
                .ec2
                .delete_network_acl_entry()
                .network_acl_id(&id)
                .rule_number(extra.rule)
                .egress(extra.egress);
            cx.aws
                .known("ec2:DeleteNetworkAclEntry", &res.name, || {
                    req.clone().send()
                })
                .await?;
        }
        entries.retain(|e| e.rule == DEFAULT_RULE);
        entries.extend(want);
        let mut missing = Vec::new();
        for subnet in subnets {
            let subnet_id = cx.bound.require(subnet, &res.name)?.to_owned();
            if !associations.iter().any(|(_, s)| *s == subnet_id) {
                missing.push(subnet_id);
            }
        }
        for subnet_id in missing {
            // Every subnet is associated with some ACL (the default one at first): replace that
            // association. A new subnet's association can take a while to be listed.
            let assoc = cx
                .aws
                .settle(|| current_association(cx, &subnet_id, &res.name))
                .await?;
            let req = cx
                .aws
                .ec2
                .replace_network_acl_association()
                .association_id(assoc)
                .network_acl_id(&id);
            let out = cx
                .aws
                .known("ec2:ReplaceNetworkAclAssociation", &res.name, || {
                    req.clone().send()
                })
                .await?;
            associations.push((
                out.new_association_id().unwrap_or_default().to_owned(),
                subnet_id,
            ));
        }
        Ok(obs)
    }

    fn attr_keys(&self, _res: &Resource) -> Vec<&'static str> {
        vec!["inbound", "outbound", "subnets"]
    }

    fn compare(
        &self,
        res: &Resource,
        obs: &Observed,
        bound: &Bindings,
        _world: &World,
    ) -> Vec<Attr> {
        let (
            Spec::NetworkAcl(NetworkAclSpec {
                subnets,
                inbound,
                outbound,
                ..
            }),
            Facts::NetworkAcl(NetworkAclFacts {
                entries,
                associations,
                ..
            }),
        ) = (&res.spec, &obs.facts)
        else {
            return Vec::new();
        };
        let side = |egress: bool, rules: &[NaclRule]| {
            let want: Vec<String> = rules
                .iter()
                .map(|r| NaclEntry::from_rule(r, egress).describe())
                .collect();
            let mut found: Vec<&NaclEntry> = entries
                .iter()
                .filter(|e| e.egress == egress && e.rule != DEFAULT_RULE)
                .collect();
            found.sort_by_key(|e| e.rule);
            let found: Vec<String> = found.iter().map(|e| e.describe()).collect();
            let list = |v: Vec<String>| {
                if v.is_empty() {
                    "none".to_owned()
                } else {
                    v.join("; ")
                }
            };
            (list(want), list(found))
        };
        let (wi, fi) = side(false, inbound);
        let (wo, fo) = side(true, outbound);
        let mut want_subnets = subnets.clone();
        want_subnets.sort();
        let mut found_subnets: Vec<String> =
            associations.iter().map(|(_, s)| bound.label(s)).collect();
        found_subnets.sort();
        vec![
            Attr::new("inbound", wi, fi),
            Attr::new("outbound", wo, fo),
            Attr::new("subnets", want_subnets.join(", "), found_subnets.join(", ")),
        ]
    }

    async fn delete(&self, cx: &DestroyCx<'_>, obs: &Observed) -> Result<(), AwsError> {
        if let Facts::NetworkAcl(NetworkAclFacts {
            associations,
            vpc_id,
            ..
        }) = &obs.facts
            && !associations.is_empty()
        {
            let default = vpc_id
                .as_deref()
                .and_then(|v| cx.world.default_nacl(v))
                .map(|d| d.id.clone());
            if let Some(default) = default {
                for (assoc, _) in associations {
                    cx.aws
                        .ec2
                        .replace_network_acl_association()
                        .association_id(assoc)
                        .network_acl_id(&default)
                        .send()
                        .await
                        .map_err(|e| {
                            AwsError::from_sdk("ec2:ReplaceNetworkAclAssociation", &obs.id, e)
                        })?;
                }
            }
        }
        cx.wait
            .dependency(&obs.id, || async {
                cx.aws
                    .ec2
                    .delete_network_acl()
                    .network_acl_id(&obs.id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2:DeleteNetworkAcl", &obs.id, e))
                    .map(drop)
            })
            .await
    }

    fn related<'w>(
        &self,
        world: &'w World,
        _owner: &Owner,
        _lab: &Lab,
        res: &Resource,
        bound: &Bindings,
    ) -> Option<(&'w Observed, String)> {
        let Spec::NetworkAcl(s) = &res.spec else {
            return None;
        };
        s.subnets.iter().find_map(|sn| {
            let a = world.nacl_of(bound.id(sn)?)?;
            (!a.is_vpc_default()).then(|| (a, format!("through its association with {sn}")))
        })
    }

    fn missing(&self, res: &Resource, names: &Names) -> String {
        match &res.spec {
            Spec::NetworkAcl(s) => format!(
                "{} use the VPC's default network ACL, not a custom one",
                s.subnets.join(" and ")
            ),
            _ => crate::resources::missing_by_name(res, names),
        }
    }

    /// Free.
    fn price(&self, _res: &Resource, _lab: &crate::lab::Lab, _e: &mut crate::cost::Estimate) {}

    /// Free.
    fn price_observed(&self, _obs: &Observed, _eips: &[&str], _e: &mut crate::cost::Estimate) {}
}
