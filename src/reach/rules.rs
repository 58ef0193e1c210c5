//! How one hop decides: a network ACL (stateless, rule-number order, first match wins, implicit
//! deny), security groups (stateful, allow-only, the union of every rule of every group, CIDRs or
//! group references) and a route table (longest prefix match).

use super::ipset::IpSet;
use crate::lab::{Action, Ports, Proto};
use crate::resources::{NaclEntry, RouteEntry, SgPeer, SgPermission};

/// The ports a reply goes back to: AWS asks NACLs to allow 1024-65535, because clients pick their
/// source port in different ranges (NAT gateways and ELB 1024-65535, Linux 32768-60999, Windows
/// 49152-65535).
pub const EPHEMERAL: Ports = Ports {
    from: 1024,
    to: 65535,
};

/// NACL entry number EC2 reports for the final `*` rule.
const STAR_RULE: i32 = 32767;

/// What a hop let through and why.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub allowed: IpSet,
    /// The rules that allowed something, as text for the path.
    pub allowed_by: Vec<String>,
    /// Why some peers were refused.
    pub refused_by: Option<Refusal>,
}

/// Why a hop refused traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A numbered NACL deny rule matched first.
    Rule { rule: i32, text: String },
    /// No NACL rule allowed it, so the final `*` rule denies it. `partial` lists allow rules that
    /// cover only part of the ports.
    Star { partial: Vec<String> },
    /// No rule of these security groups admits it.
    Groups { names: Vec<String> },
}

fn proto_matches(rule: Option<Proto>, query: Proto) -> bool {
    match rule {
        Some(Proto::All) => true,
        Some(p) => p == query,
        None => false,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Cover {
    Full,
    Partial,
    None,
}

/// How much of `want` a rule's port range covers (ICMP and `all` carry no ports).
fn cover(rule: Option<Ports>, want: Option<Ports>) -> Cover {
    match (rule, want) {
        (None, _) | (_, None) => Cover::Full,
        (Some(r), Some(w)) if r.from <= w.from && w.to <= r.to => Cover::Full,
        (Some(r), Some(w)) if r.from <= w.to && w.from <= r.to => Cover::Partial,
        _ => Cover::None,
    }
}

fn rule_name(e: &NaclEntry) -> String {
    if e.rule == STAR_RULE {
        "*".to_owned()
    } else {
        e.rule.to_string()
    }
}

/// One direction of a network ACL for traffic to or from `peers`, the addresses on the far side
/// (the source for inbound entries, the destination for outbound ones).
///
/// An allow rule decides only for peers whose whole port range it covers; a rule that covers part
/// of the ports lets the rest fall through to later rules, and the analysis does not count it as
/// allowing (a return path that works for some client ports only is a broken return path).
/// A deny rule that matches any of the ports refuses the peers it matches.
pub fn nacl(
    entries: &[NaclEntry],
    egress: bool,
    proto: Proto,
    ports: Option<Ports>,
    peers: &IpSet,
) -> Verdict {
    let mut rules: Vec<&NaclEntry> = entries.iter().filter(|e| e.egress == egress).collect();
    rules.sort_by_key(|e| e.rule);
    let mut remaining = peers.clone();
    let mut allowed = IpSet::empty();
    let mut allowed_by = Vec::new();
    let mut refused_by = None;
    let mut partial: Vec<String> = Vec::new();
    for e in rules {
        if remaining.is_empty() {
            break;
        }
        if !proto_matches(e.proto(), proto) {
            continue;
        }
        let c = cover(e.ports, ports);
        if c == Cover::None {
            continue;
        }
        let Some(net) = IpSet::parse(&e.cidr) else {
            continue;
        };
        let hit = remaining.intersect(&net);
        if hit.is_empty() {
            continue;
        }
        match (e.action, c) {
            (Action::Allow, Cover::Full) => {
                allowed = allowed.union(&hit);
                remaining = remaining.minus(&hit);
                allowed_by.push(format!("rule {}", rule_name(e)));
            }
            (Action::Allow, _) => partial.push(format!(
                "rule {} allows only ports {}",
                rule_name(e),
                crate::resources::ports_text(e.ports)
            )),
            (Action::Deny, _) => {
                remaining = remaining.minus(&hit);
                if refused_by.is_none() {
                    refused_by = Some(if e.rule == STAR_RULE {
                        Refusal::Star {
                            partial: partial.clone(),
                        }
                    } else {
                        Refusal::Rule {
                            rule: e.rule,
                            text: e.describe(),
                        }
                    });
                }
            }
        }
    }
    if !remaining.is_empty() && refused_by.is_none() {
        refused_by = Some(Refusal::Star { partial });
    }
    Verdict {
        allowed,
        allowed_by,
        refused_by,
    }
}

/// One security group's rules in one direction, with the group's label for messages.
pub struct GroupRules<'a> {
    pub label: String,
    pub rules: &'a [SgPermission],
}

/// Security groups for traffic to or from `peers`: a peer is admitted if any rule of any group
/// allows it, by CIDR or because the peer belongs to the referenced group (`peer_groups`).
/// Stateful: the reply needs no rule.
pub fn security_groups(
    groups: &[GroupRules<'_>],
    ingress: bool,
    proto: Proto,
    port: Option<u16>,
    peers: &IpSet,
    peer_groups: &[String],
    label_of: impl Fn(&str) -> String,
) -> Verdict {
    let mut allowed = IpSet::empty();
    let mut allowed_by = Vec::new();
    for g in groups {
        for r in g.rules {
            if !proto_matches(Some(r.proto), proto) {
                continue;
            }
            let port_ok = match (r.ports, port) {
                (None, _) | (_, None) => true,
                (Some(p), Some(q)) => p.from <= q && q <= p.to,
            };
            if !port_ok {
                continue;
            }
            let hit = match &r.peer {
                SgPeer::Cidr(c) => {
                    IpSet::parse(c).map_or_else(IpSet::empty, |n| peers.intersect(&n))
                }
                SgPeer::Group(id) if peer_groups.iter().any(|p| p == id) => peers.clone(),
                SgPeer::Group(_) => IpSet::empty(),
            };
            if !hit.is_empty() {
                allowed = allowed.union(&hit);
                let dir = if ingress { "from" } else { "to" };
                let peer = match &r.peer {
                    SgPeer::Cidr(c) => format!("{dir} {c}"),
                    SgPeer::Group(id) => format!("{dir} sg {}", label_of(id)),
                };
                allowed_by.push(format!(
                    "{} allows {}",
                    g.label,
                    crate::resources::rule_text(r.proto, r.ports, &peer)
                ));
            }
        }
    }
    let refused_by = (!peers.minus(&allowed).is_empty()).then(|| Refusal::Groups {
        names: groups.iter().map(|g| g.label.clone()).collect(),
    });
    Verdict {
        allowed,
        allowed_by,
        refused_by,
    }
}

/// Splits `dests` by the route each address takes: longest prefix first. The last part (`None`)
/// has no route at all.
pub fn split_routes<'r>(
    routes: &'r [RouteEntry],
    dests: &IpSet,
) -> Vec<(Option<&'r RouteEntry>, IpSet)> {
    let mut parsed: Vec<(u8, &RouteEntry, IpSet)> = routes
        .iter()
        .filter_map(|r| {
            let net = r.dest.parse::<ipnet::Ipv4Net>().ok()?;
            Some((net.prefix_len(), r, IpSet::net(net.trunc())))
        })
        .collect();
    parsed.sort_by_key(|p| std::cmp::Reverse(p.0));
    let mut remaining = dests.clone();
    let mut out = Vec::new();
    for (_, r, net) in parsed {
        let hit = remaining.intersect(&net);
        if !hit.is_empty() {
            remaining = remaining.minus(&hit);
            out.push((Some(r), hit));
        }
    }
    if !remaining.is_empty() {
        out.push((None, remaining));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        rule: i32,
        egress: bool,
        action: Action,
        proto: &str,
        ports: Option<(u16, u16)>,
        cidr: &str,
    ) -> NaclEntry {
        NaclEntry {
            rule,
            egress,
            action,
            proto: proto.to_owned(),
            ports: ports.map(|(from, to)| Ports { from, to }),
            cidr: cidr.to_owned(),
        }
    }

    fn set(c: &str) -> IpSet {
        IpSet::parse(c).expect("cidr")
    }

    const SSH: Option<Ports> = Some(Ports { from: 22, to: 22 });

    #[test]
    fn nacl_first_match_wins_in_rule_order() {
        // Listed out of order on purpose: evaluation goes by rule number.
        let entries = vec![
            entry(100, false, Action::Allow, "-1", None, "10.0.0.0/16"),
            entry(50, false, Action::Deny, "6", Some((22, 22)), "0.0.0.0/0"),
            entry(32767, false, Action::Deny, "-1", None, "0.0.0.0/0"),
        ];
        let v = nacl(&entries, false, Proto::Tcp, SSH, &set("10.0.1.5/32"));
        assert!(v.allowed.is_empty());
        assert!(
            matches!(v.refused_by, Some(Refusal::Rule { rule: 50, .. })),
            "{v:?}"
        );
        // Another port passes rule 50 by and meets the allow.
        let http = Some(Ports { from: 80, to: 80 });
        let v = nacl(&entries, false, Proto::Tcp, http, &set("10.0.1.5/32"));
        assert_eq!(v.allowed, set("10.0.1.5/32"));
        assert_eq!(v.allowed_by, vec!["rule 100"]);
    }

    #[test]
    fn nacl_allow_before_deny_wins() {
        let entries = vec![
            entry(100, false, Action::Allow, "6", Some((22, 22)), "0.0.0.0/0"),
            entry(200, false, Action::Deny, "-1", None, "0.0.0.0/0"),
        ];
        let v = nacl(&entries, false, Proto::Tcp, SSH, &IpSet::internet());
        assert_eq!(v.allowed, IpSet::internet());
        assert!(v.refused_by.is_none());
    }

    #[test]
    fn nacl_implicit_deny_and_direction() {
        let entries = vec![entry(100, true, Action::Allow, "-1", None, "0.0.0.0/0")];
        // Only an outbound rule: inbound falls to the implicit deny.
        let v = nacl(&entries, false, Proto::Tcp, SSH, &set("10.0.1.5/32"));
        assert!(v.allowed.is_empty());
        assert_eq!(v.refused_by, Some(Refusal::Star { partial: vec![] }));
    }

    #[test]
    fn nacl_return_traffic_needs_the_whole_ephemeral_range() {
        let partial = vec![entry(
            100,
            true,
            Action::Allow,
            "6",
            Some((32768, 60999)),
            "0.0.0.0/0",
        )];
        let v = nacl(
            &partial,
            true,
            Proto::Tcp,
            Some(EPHEMERAL),
            &set("10.0.1.5/32"),
        );
        assert!(v.allowed.is_empty());
        assert_eq!(
            v.refused_by,
            Some(Refusal::Star {
                partial: vec!["rule 100 allows only ports 32768-60999".into()]
            })
        );
        let full = vec![entry(
            100,
            true,
            Action::Allow,
            "6",
            Some((1024, 65535)),
            "0.0.0.0/0",
        )];
        let v = nacl(
            &full,
            true,
            Proto::Tcp,
            Some(EPHEMERAL),
            &set("10.0.1.5/32"),
        );
        assert_eq!(v.allowed, set("10.0.1.5/32"));
        // A deny of part of the range refuses.
        let deny = vec![
            entry(90, true, Action::Deny, "6", Some((5000, 6000)), "0.0.0.0/0"),
            entry(100, true, Action::Allow, "-1", None, "0.0.0.0/0"),
        ];
        let v = nacl(
            &deny,
            true,
            Proto::Tcp,
            Some(EPHEMERAL),
            &set("10.0.1.5/32"),
        );
        assert!(v.allowed.is_empty());
    }

    #[test]
    fn nacl_narrows_by_cidr() {
        let entries = vec![entry(100, false, Action::Allow, "-1", None, "10.0.0.0/16")];
        let v = nacl(
            &entries,
            false,
            Proto::Tcp,
            SSH,
            &IpSet::internet().union(&set("10.0.1.0/24")),
        );
        assert_eq!(v.allowed, set("10.0.1.0/24"));
        assert!(v.refused_by.is_some());
    }

    fn perm(proto: Proto, port: Option<u16>, peer: SgPeer) -> SgPermission {
        SgPermission {
            proto,
            ports: port.map(|p| Ports { from: p, to: p }),
            peer,
        }
    }

    #[test]
    fn security_groups_admit_by_cidr_or_group_reference() {
        let app = vec![perm(
            Proto::Tcp,
            Some(22),
            SgPeer::Group("sg-bastion".into()),
        )];
        let groups = [GroupRules {
            label: "app-sg".into(),
            rules: &app,
        }];
        let bastion_ip = set("10.0.1.5/32");
        let label = |id: &str| id.trim_start_matches("sg-").to_owned() + "-sg";
        // A member of the referenced group is admitted.
        let v = security_groups(
            &groups,
            true,
            Proto::Tcp,
            Some(22),
            &bastion_ip,
            &["sg-bastion".into()],
            label,
        );
        assert_eq!(v.allowed, bastion_ip);
        assert_eq!(
            v.allowed_by,
            vec!["app-sg allows tcp 22 from sg bastion-sg"]
        );
        // The same address without the membership is not: references match groups, not CIDRs.
        let v = security_groups(&groups, true, Proto::Tcp, Some(22), &bastion_ip, &[], label);
        assert!(v.allowed.is_empty());
        assert_eq!(
            v.refused_by,
            Some(Refusal::Groups {
                names: vec!["app-sg".into()]
            })
        );
        // Wrong port.
        let v = security_groups(
            &groups,
            true,
            Proto::Tcp,
            Some(80),
            &bastion_ip,
            &["sg-bastion".into()],
            label,
        );
        assert!(v.allowed.is_empty());
        // A CIDR rule admits the internet, and the union of groups counts.
        let open = vec![perm(Proto::Tcp, Some(22), SgPeer::Cidr("0.0.0.0/0".into()))];
        let both = [
            GroupRules {
                label: "app-sg".into(),
                rules: &app,
            },
            GroupRules {
                label: "open-sg".into(),
                rules: &open,
            },
        ];
        let v = security_groups(
            &both,
            true,
            Proto::Tcp,
            Some(22),
            &IpSet::internet(),
            &[],
            label,
        );
        assert_eq!(v.allowed, IpSet::internet());
        // `all` traffic rules cover every protocol and port.
        let all = vec![perm(Proto::All, None, SgPeer::Cidr("0.0.0.0/0".into()))];
        let g = [GroupRules {
            label: "egress".into(),
            rules: &all,
        }];
        let v = security_groups(
            &g,
            false,
            Proto::Udp,
            Some(53),
            &IpSet::internet(),
            &[],
            label,
        );
        assert_eq!(v.allowed, IpSet::internet());
    }

    #[test]
    fn routes_longest_prefix_first() {
        let routes = vec![
            RouteEntry {
                dest: "0.0.0.0/0".into(),
                target: Some(crate::resources::RouteTarget::from_id("nat-1")),
                state: "active".into(),
            },
            RouteEntry {
                dest: "10.0.0.0/16".into(),
                target: Some(crate::resources::RouteTarget::from_id("local")),
                state: "active".into(),
            },
            RouteEntry {
                dest: "203.0.113.0/24".into(),
                target: Some(crate::resources::RouteTarget::from_id("igw-1")),
                state: "active".into(),
            },
        ];
        let parts = split_routes(
            &routes,
            &set("10.0.1.5/32")
                .union(&set("203.0.113.7/32"))
                .union(&set("8.8.8.8/32")),
        );
        let targets: Vec<(Option<&str>, String)> = parts
            .iter()
            .map(|(r, s)| {
                (
                    r.and_then(|r| r.target.as_ref().map(|t| t.id())),
                    s.to_string(),
                )
            })
            .collect();
        assert_eq!(
            targets,
            vec![
                (Some("igw-1"), "203.0.113.7".to_owned()),
                (Some("local"), "10.0.1.5".to_owned()),
                (Some("nat-1"), "8.8.8.8".to_owned()),
            ]
        );
        let no_default = &routes[1..2];
        let parts = split_routes(no_default, &set("8.8.8.8/32"));
        assert!(parts[0].0.is_none());
    }
}
