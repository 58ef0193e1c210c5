//! The analysis on synthetic worlds: the VPC lab as the notes build it, and the mistakes students
//! make, each with the verdict and the message that names the blocking rule or route.

use super::{
    Answer, Blocked, Blocker, Direction, Flow, GroupDeny, NaclDeny, NatFault, RouteFault, Traffic,
    Unresolved, analyze,
};
use crate::lab::{Action, Endpoint, Kind, Ports, Proto};
use crate::resources::{
    AutoScalingGroupFacts, InstanceFacts, InternetGatewayFacts, LaunchTemplateFacts,
    LoadBalancerFacts, NatGatewayFacts, NetworkAclFacts, RouteTableFacts, SecurityGroupFacts,
    SubnetFacts, VpcFacts,
};
use crate::resources::{
    Bindings, Facts, NaclEntry, Observed, RouteEntry, SgPeer, SgPermission, World,
};

fn obs(kind: Kind, id: &str, facts: Facts) -> Observed {
    Observed {
        kind,
        id: id.to_owned(),
        tags: Default::default(),
        facts,
    }
}

fn subnet(id: &str, cidr: &str, public: bool) -> Observed {
    obs(
        Kind::Subnet,
        id,
        Facts::Subnet(SubnetFacts {
            vpc_id: Some("vpc-1".into()),
            cidr: cidr.parse().ok(),
            az: Some("us-east-1a".into()),
            map_public_ip: public,
        }),
    )
}

fn route(dest: &str, target: &str) -> RouteEntry {
    RouteEntry {
        dest: dest.into(),
        target: Some(crate::resources::RouteTarget::from_id(target)),
        state: "active".into(),
    }
}

fn table(id: &str, main: bool, subnets: &[&str], routes: Vec<RouteEntry>) -> Observed {
    obs(
        Kind::RouteTable,
        id,
        Facts::RouteTable(RouteTableFacts {
            vpc_id: Some("vpc-1".into()),
            main,
            associations: subnets
                .iter()
                .map(|s| (format!("rtbassoc-{s}"), (*s).to_owned()))
                .collect(),
            routes,
        }),
    )
}

fn rule(
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
        proto: proto.into(),
        ports: ports.map(|(from, to)| Ports { from, to }),
        cidr: cidr.into(),
    }
}

fn nacl(id: &str, default: bool, subnets: &[&str], mut entries: Vec<NaclEntry>) -> Observed {
    entries.push(rule(32767, false, Action::Deny, "-1", None, "0.0.0.0/0"));
    entries.push(rule(32767, true, Action::Deny, "-1", None, "0.0.0.0/0"));
    obs(
        Kind::NetworkAcl,
        id,
        Facts::NetworkAcl(NetworkAclFacts {
            vpc_id: Some("vpc-1".into()),
            is_default: default,
            associations: subnets
                .iter()
                .map(|s| (format!("aclassoc-{s}"), (*s).to_owned()))
                .collect(),
            entries,
        }),
    )
}

fn perm(proto: Proto, port: Option<u16>, peer: SgPeer) -> SgPermission {
    SgPermission {
        proto,
        ports: port.map(|p| Ports { from: p, to: p }),
        peer,
    }
}

fn all_out() -> Vec<SgPermission> {
    vec![perm(Proto::All, None, SgPeer::Cidr("0.0.0.0/0".into()))]
}

fn group(id: &str, ingress: Vec<SgPermission>) -> Observed {
    obs(
        Kind::SecurityGroup,
        id,
        Facts::SecurityGroup(SecurityGroupFacts {
            vpc_id: Some("vpc-1".into()),
            group_name: id.trim_start_matches("sg-").into(),
            ingress,
            egress: all_out(),
        }),
    )
}

fn instance(id: &str, subnet: &str, ip: &str, public: Option<&str>, sg: &str) -> Observed {
    obs(
        Kind::Instance,
        id,
        Facts::Instance(InstanceFacts {
            image_id: None,
            az: None,
            launch_template: None,
            vpc_id: Some("vpc-1".into()),
            subnet_id: Some(subnet.into()),
            state: "running".into(),
            instance_type: "t3.micro".into(),
            security_groups: vec![sg.into()],
            key_name: None,
            public_ip: public.map(Into::into),
            private_ip: Some(ip.into()),
            instance_profile: None,
        }),
    )
}

/// The VPC lab, built right.
struct Lab {
    items: Vec<(&'static str, Observed)>,
}

impl Lab {
    fn new() -> Lab {
        let local = || route("10.0.0.0/16", "local");
        let items = vec![
            (
                "lab-vpc",
                obs(
                    Kind::Vpc,
                    "vpc-1",
                    Facts::Vpc(VpcFacts {
                        cidr: "10.0.0.0/16".parse().ok(),
                        dns_hostnames: Some(true),
                        is_default: false,
                    }),
                ),
            ),
            ("public-a", subnet("subnet-pa", "10.0.1.0/24", true)),
            ("public-b", subnet("subnet-pb", "10.0.2.0/24", true)),
            ("private-a", subnet("subnet-va", "10.0.11.0/24", false)),
            (
                "lab-igw",
                obs(
                    Kind::InternetGateway,
                    "igw-1",
                    Facts::InternetGateway(InternetGatewayFacts {
                        attached_vpcs: vec!["vpc-1".into()],
                    }),
                ),
            ),
            ("main-rt", table("rtb-main", true, &[], vec![local()])),
            (
                "public-rt",
                table(
                    "rtb-pub",
                    false,
                    &["subnet-pa", "subnet-pb"],
                    vec![local(), route("0.0.0.0/0", "igw-1")],
                ),
            ),
            (
                "private-rt",
                table(
                    "rtb-priv",
                    false,
                    &["subnet-va"],
                    vec![local(), route("0.0.0.0/0", "nat-1")],
                ),
            ),
            (
                "lab-nat",
                obs(
                    Kind::NatGateway,
                    "nat-1",
                    Facts::NatGateway(NatGatewayFacts {
                        vpc_id: Some("vpc-1".into()),
                        subnet_id: Some("subnet-pa".into()),
                        state: "available".into(),
                        allocation_ids: vec!["eipalloc-1".into()],
                        public_ip: Some("54.0.0.9".into()),
                    }),
                ),
            ),
            (
                "default-nacl",
                nacl(
                    "acl-def",
                    true,
                    &["subnet-pa", "subnet-pb"],
                    vec![
                        rule(100, false, Action::Allow, "-1", None, "0.0.0.0/0"),
                        rule(100, true, Action::Allow, "-1", None, "0.0.0.0/0"),
                    ],
                ),
            ),
            (
                "private-nacl",
                nacl(
                    "acl-priv",
                    false,
                    &["subnet-va"],
                    vec![
                        rule(100, false, Action::Allow, "-1", None, "10.0.0.0/16"),
                        rule(
                            200,
                            false,
                            Action::Allow,
                            "6",
                            Some((1024, 65535)),
                            "0.0.0.0/0",
                        ),
                        rule(100, true, Action::Allow, "-1", None, "0.0.0.0/0"),
                    ],
                ),
            ),
            (
                "bastion-sg",
                group(
                    "sg-bastion",
                    vec![perm(Proto::Tcp, Some(22), SgPeer::Cidr("0.0.0.0/0".into()))],
                ),
            ),
            (
                "app-sg",
                group(
                    "sg-app",
                    vec![perm(
                        Proto::Tcp,
                        Some(22),
                        SgPeer::Group("sg-bastion".into()),
                    )],
                ),
            ),
            (
                "bastion",
                instance(
                    "i-bastion",
                    "subnet-pa",
                    "10.0.1.10",
                    Some("54.0.0.1"),
                    "sg-bastion",
                ),
            ),
            (
                "app",
                instance("i-app", "subnet-va", "10.0.11.10", None, "sg-app"),
            ),
        ];
        Lab { items }
    }

    fn facts(&mut self, name: &str) -> &mut Facts {
        &mut self
            .items
            .iter_mut()
            .find(|(n, _)| *n == name)
            .expect("fixture name")
            .1
            .facts
    }

    fn ask(&self, from: &str, to: &str, port: u16) -> Vec<Answer> {
        self.ask_as(from, to, port, false)
    }

    fn ask_as(&self, from: &str, to: &str, port: u16, config_only: bool) -> Vec<Answer> {
        let world = World {
            items: self.items.iter().map(|(_, o)| o.clone()).collect(),
            azs: vec!["us-east-1a".into(), "us-east-1b".into()],
            ..World::default()
        };
        let mut bound = Bindings::default();
        for (n, o) in &self.items {
            bound.insert(n, o.clone());
        }
        let end = |s: &str| {
            if s == "internet" {
                Endpoint::Internet
            } else {
                Endpoint::Resource(s.to_owned())
            }
        };
        analyze(
            &world,
            &bound,
            &end(from),
            &end(to),
            Traffic {
                proto: Proto::Tcp,
                port: Some(port),
            },
            config_only,
        )
        .expect("endpoints exist")
    }

    /// The single answer: the path, or where it breaks.
    fn one(&self, from: &str, to: &str, port: u16) -> Result<String, Blocked> {
        let mut a = self.ask(from, to, port);
        assert_eq!(a.len(), 1, "{a:?}");
        a.remove(0).outcome
    }
}

fn set_nacl(lab: &mut Lab, name: &str, new: Vec<NaclEntry>) {
    if let Facts::NetworkAcl(NetworkAclFacts { entries, .. }) = lab.facts(name) {
        *entries = new;
    }
}

#[test]
fn the_lab_built_right_gets_every_verdict() {
    let lab = Lab::new();
    let ssh = lab
        .one("internet", "bastion", 22)
        .expect("internet -> bastion");
    assert!(ssh.contains("public-rt: 0.0.0.0/0 -> lab-igw"), "{ssh}");
    assert!(
        ssh.contains("bastion-sg allows tcp 22 from 0.0.0.0/0"),
        "{ssh}"
    );
    let blocked = lab
        .one("internet", "app", 22)
        .expect_err("internet -/-> app");
    assert!(
        matches!(&blocked, Blocked::NoRouteToGateway { table, subnet, detached: None }
            if table.label == "private-rt (rtb-priv)" && !table.main && subnet == "private-a"),
        "{blocked:?}"
    );
    assert_eq!(
        blocked.to_string(),
        "no route to an internet gateway in route table private-rt (rtb-priv), which governs private-a"
    );
    let hop = lab.one("bastion", "app", 22).expect("bastion -> app");
    assert!(
        hop.contains("app-sg allows tcp 22 from sg bastion-sg"),
        "{hop}"
    );
    assert!(
        hop.contains("NACL private-nacl reply out: rule 100"),
        "{hop}"
    );
    let other = lab
        .one("public-b", "app", 22)
        .expect_err("a host in public-b -/-> app");
    assert!(
        matches!(&other, Blocked::Groups(GroupDeny { groups, direction: Direction::Inbound, host, peer_groups, .. })
            if *groups == ["app-sg"] && host == "app" && peer_groups.is_empty()),
        "{other:?}"
    );
    assert_eq!(
        other.blocker(),
        Some(Blocker {
            kind: Kind::SecurityGroup,
            ids: vec!["sg-app".into()]
        })
    );
    assert_eq!(
        other.to_string(),
        "no rule of app-sg admits TCP 22 to app from a host in public-b (10.0.2.0/24)"
    );
    let egress = lab.one("app", "internet", 443).expect("app -> internet");
    assert!(
        egress.contains("private-rt: 0.0.0.0/0 -> lab-nat"),
        "{egress}"
    );
    assert!(
        egress.contains("NACL private-nacl reply in: rule 200"),
        "{egress}"
    );
    assert!(egress.contains("lab-nat in public-a"), "{egress}");
}

#[test]
fn private_route_to_the_igw_leaves_app_without_egress() {
    let mut lab = Lab::new();
    if let Facts::RouteTable(RouteTableFacts { routes, .. }) = lab.facts("private-rt") {
        routes[1] = route("0.0.0.0/0", "igw-1");
    }
    let why = lab.one("app", "internet", 443).expect_err("no public IP");
    assert!(
        matches!(&why, Blocked::NoPublicIpForGateway { host, dest, gateway, .. }
            if host == "app" && dest == "0.0.0.0/0" && gateway == "lab-igw"),
        "{why:?}"
    );
    let why = why.to_string();
    assert!(why.starts_with("app has no public IP address, and route table private-rt (rtb-priv) sends 0.0.0.0/0 straight to internet gateway lab-igw"), "{why}");
    // Still not reachable from the internet: no public address.
    let why = lab.one("internet", "app", 22).expect_err("no public IP");
    assert_eq!(why, Blocked::NoPublicIp { host: "app".into() });
    assert_eq!(
        why.to_string(),
        "app has no public IP address, so nothing on the internet can address it"
    );
}

#[test]
fn nacl_without_outbound_ephemeral_ports_breaks_the_reply() {
    let mut lab = Lab::new();
    set_nacl(
        &mut lab,
        "private-nacl",
        vec![
            rule(
                100,
                false,
                Action::Allow,
                "6",
                Some((22, 22)),
                "10.0.0.0/16",
            ),
            rule(100, true, Action::Allow, "6", Some((443, 443)), "0.0.0.0/0"),
            rule(32767, false, Action::Deny, "-1", None, "0.0.0.0/0"),
            rule(32767, true, Action::Deny, "-1", None, "0.0.0.0/0"),
        ],
    );
    let why = lab.one("bastion", "app", 22).expect_err("reply blocked");
    // The reply leaves private-a on the ephemeral ports and meets the `*` rule.
    let Blocked::Nacl { acl, reply, rule } = &why else {
        panic!("not a NACL: {why:?}");
    };
    assert_eq!(
        why.blocker(),
        Some(Blocker {
            kind: Kind::NetworkAcl,
            ids: vec!["acl-priv".into()]
        })
    );
    assert!(*reply && !acl.default, "{why:?}");
    assert!(
        matches!(rule, NaclDeny::Star { partial, flow: Flow { direction: Direction::Outbound, ports: Some(p), subnet, .. } }
            if partial.is_empty() && *p == crate::reach::rules::EPHEMERAL && subnet == "private-a"),
        "{why:?}"
    );
    assert_eq!(
        why.to_string(),
        "the reply is blocked (NACLs are stateless): NACL private-nacl (acl-priv) has no rule allowing TCP 1024-65535 outbound from private-a to 10.0.1.10, so the `*` rule denies it"
    );
}

#[test]
fn deny_numbered_before_allow_wins() {
    let mut lab = Lab::new();
    set_nacl(
        &mut lab,
        "private-nacl",
        vec![
            rule(50, false, Action::Deny, "6", Some((22, 22)), "0.0.0.0/0"),
            rule(100, false, Action::Allow, "-1", None, "10.0.0.0/16"),
            rule(100, true, Action::Allow, "-1", None, "0.0.0.0/0"),
        ],
    );
    let why = lab.one("bastion", "app", 22).expect_err("rule 50");
    // Rule 50 of the private NACL, inbound into private-a, on the request (not the reply).
    assert!(
        matches!(&why, Blocked::Nacl { acl, reply: false, rule: NaclDeny::Rule { number: 50, flow, .. } }
            if acl.label == "private-nacl (acl-priv)"
                && flow.direction == Direction::Inbound
                && flow.subnet == "private-a"),
        "{why:?}"
    );
    assert_eq!(
        why.to_string(),
        "NACL private-nacl (acl-priv) rule 50 denies TCP 22 inbound to private-a from 10.0.1.10 (50 deny tcp 22 0.0.0.0/0)"
    );
    // Numbered after the allow, the same deny changes nothing.
    set_nacl(
        &mut lab,
        "private-nacl",
        vec![
            rule(100, false, Action::Allow, "-1", None, "10.0.0.0/16"),
            rule(150, false, Action::Deny, "6", Some((22, 22)), "0.0.0.0/0"),
            rule(100, true, Action::Allow, "-1", None, "0.0.0.0/0"),
        ],
    );
    lab.one("bastion", "app", 22)
        .expect("allow 100 matches first");
}

#[test]
fn app_sg_open_to_the_world_lets_any_vpc_host_in() {
    let mut lab = Lab::new();
    if let Facts::SecurityGroup(SecurityGroupFacts { ingress, .. }) = lab.facts("app-sg") {
        *ingress = vec![perm(Proto::Tcp, Some(22), SgPeer::Cidr("0.0.0.0/0".into()))];
    }
    let path = lab.one("public-b", "app", 22).expect("now reachable");
    assert!(
        path.contains("app-sg allows tcp 22 from 0.0.0.0/0"),
        "{path}"
    );
    // The route table still keeps the internet out: defence in depth.
    assert!(lab.one("internet", "app", 22).is_err());
}

#[test]
fn group_reference_matches_members_not_addresses() {
    let mut lab = Lab::new();
    // A second host in the bastion's subnet, not in bastion-sg, with its own group.
    lab.items.push(("web-sg", group("sg-web", vec![])));
    lab.items.push((
        "web",
        instance(
            "i-web",
            "subnet-pa",
            "10.0.1.20",
            Some("54.0.0.2"),
            "sg-web",
        ),
    ));
    let why = lab.one("web", "app", 22).expect_err("not a member");
    assert!(
        matches!(&why, Blocked::Groups(GroupDeny { peer_groups, .. }) if *peer_groups == ["web-sg"]),
        "{why:?}"
    );
    assert!(why.to_string().contains("in web-sg"), "{why}");
    // Security group endpoints stand for each member.
    let answers = lab.ask("bastion-sg", "app", 22);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].from, "bastion");
    assert!(answers[0].outcome.is_ok());
}

#[test]
fn bastion_in_a_private_subnet_is_unreachable() {
    let mut lab = Lab::new();
    if let Facts::Instance(InstanceFacts {
        subnet_id,
        private_ip,
        public_ip,
        ..
    }) = lab.facts("bastion")
    {
        *subnet_id = Some("subnet-va".into());
        *private_ip = Some("10.0.11.20".into());
        *public_ip = None;
    }
    let why = lab.one("internet", "bastion", 22).expect_err("private");
    assert_eq!(
        why.to_string(),
        "no route to an internet gateway in route table private-rt (rtb-priv), which governs private-a"
    );
}

#[test]
fn nat_in_a_private_subnet_gives_no_egress() {
    let mut lab = Lab::new();
    if let Facts::NatGateway(NatGatewayFacts { subnet_id, .. }) = lab.facts("lab-nat") {
        *subnet_id = Some("subnet-va".into());
    }
    let why = lab.one("app", "internet", 443).expect_err("NAT in private");
    assert!(
        matches!(&why, Blocked::Nat { nat, id, why: NatFault::PrivateSubnet { subnet, why } }
            if nat == "lab-nat" && id == "nat-1" && subnet == "private-a"
                && matches!(**why, Blocked::NoRouteToGateway { .. })),
        "{why:?}"
    );
    // The NAT gateway carries nothing because its own subnet's table has no way out.
    assert_eq!(
        why.blocker(),
        Some(Blocker {
            kind: Kind::RouteTable,
            ids: vec!["rtb-priv".into()]
        })
    );
    let why = why.to_string();
    assert!(
        why.starts_with("NAT gateway lab-nat sits in private-a, which is not public: no route to an internet gateway in route table private-rt (rtb-priv)"),
        "{why}"
    );
}

#[test]
fn subnet_without_association_uses_the_main_table_and_default_nacl() {
    let mut lab = Lab::new();
    if let Facts::RouteTable(RouteTableFacts { associations, .. }) = lab.facts("public-rt") {
        associations.retain(|(_, s)| s != "subnet-pb");
    }
    if let Facts::NetworkAcl(NetworkAclFacts { associations, .. }) = lab.facts("default-nacl") {
        associations.retain(|(_, s)| s != "subnet-pb");
    }
    // public-b now follows the main table, which has only the local route.
    let why = lab.one("internet", "public-b", 22).expect_err("main table");
    assert!(
        matches!(&why, Blocked::NoRouteToGateway { table, .. } if table.main),
        "{why:?}"
    );
    assert_eq!(
        why.to_string(),
        "no route to an internet gateway in route table main-rt (rtb-main) (main), which governs public-b"
    );
}

#[test]
fn stopped_instances_and_detached_gateways() {
    let mut lab = Lab::new();
    if let Facts::InternetGateway(InternetGatewayFacts { attached_vpcs }) = lab.facts("lab-igw") {
        attached_vpcs.clear();
    }
    let why = lab.one("internet", "bastion", 22).expect_err("detached");
    assert!(
        matches!(&why, Blocked::NoRouteToGateway { detached: Some(g), .. } if g == "lab-igw"),
        "{why:?}"
    );
    let why = why.to_string();
    assert!(
        why.ends_with("(its route goes to lab-igw, which is not attached to the VPC)"),
        "{why}"
    );
    let mut lab = Lab::new();
    if let Facts::Instance(InstanceFacts { state, .. }) = lab.facts("app") {
        *state = "stopped".into();
    }
    assert_eq!(
        lab.one("bastion", "app", 22).expect_err("stopped"),
        Blocked::Down {
            host: "app".into(),
            state: "stopped".into()
        }
    );
    assert_eq!(
        lab.one("bastion", "app", 22)
            .expect_err("stopped")
            .to_string(),
        "app is stopped"
    );
}

#[test]
fn a_stopped_instance_is_judged_by_its_configuration_when_traffic_must_not_pass() {
    let mut lab = Lab::new();
    if let Facts::SecurityGroup(SecurityGroupFacts { ingress, .. }) = lab.facts("app-sg") {
        *ingress = vec![perm(Proto::Tcp, Some(22), SgPeer::Cidr("0.0.0.0/0".into()))];
    }
    if let Facts::Instance(InstanceFacts { state, .. }) = lab.facts("app") {
        *state = "stopped".into();
    }
    // As a `reachable` question: stopped is stopped.
    assert_eq!(
        lab.one("public-b", "app", 22)
            .expect_err("stopped")
            .to_string(),
        "app is stopped"
    );
    // As a `not_reachable` question: the open group lets a VPC host in once it runs.
    let a = lab.ask_as("public-b", "app", 22, true);
    assert!(a[0].outcome.is_ok(), "{a:?}");
}

/// The ALB lab on top of the VPC lab: an internet-facing load balancer in the public subnets
/// with `alb-sg`, and a group in the private subnet launching with `web-sg` (from its template).
fn with_web_tier(web_ingress: Vec<SgPermission>, group_subnets: &[&str], scheme: &str) -> Lab {
    let mut lab = Lab::new();
    lab.items.push((
        "alb-sg",
        group(
            "sg-alb",
            vec![perm(Proto::Tcp, Some(80), SgPeer::Cidr("0.0.0.0/0".into()))],
        ),
    ));
    lab.items.push(("web-sg", group("sg-web", web_ingress)));
    lab.items.push((
        "web-lt",
        obs(
            Kind::LaunchTemplate,
            "lt-1",
            Facts::LaunchTemplate(LaunchTemplateFacts {
                key_name: None,
                root_volume: None,
                name: "web-lt".into(),
                version: 1,
                image_id: Some("ami-1".into()),
                instance_type: Some("t3.micro".into()),
                security_groups: vec!["sg-web".into()],
                instance_profile: None,
                user_data: None,
            }),
        ),
    ));
    lab.items.push((
        "web-alb",
        obs(
            Kind::LoadBalancer,
            "arn:lb",
            Facts::LoadBalancer(LoadBalancerFacts {
                name: "web-alb".into(),
                vpc_id: Some("vpc-1".into()),
                dns_name: Some("web-alb-1.elb.amazonaws.com".into()),
                scheme: scheme.into(),
                lb_type: "application".into(),
                state: "active".into(),
                subnets: vec!["subnet-pa".into(), "subnet-pb".into()],
                azs: vec!["us-east-1a".into(), "us-east-1b".into()],
                security_groups: vec!["sg-alb".into()],
            }),
        ),
    ));
    lab.items.push((
        "web-asg",
        obs(
            Kind::AutoScalingGroup,
            "web-asg",
            Facts::AutoScalingGroup(AutoScalingGroupFacts {
                vpc_id: Some("vpc-1".into()),
                subnets: group_subnets.iter().map(|s| (*s).to_owned()).collect(),
                min_size: 2,
                max_size: 4,
                desired_capacity: 2,
                target_groups: vec!["arn:tg".into()],
                health_check_type: "ELB".into(),
                launch_template: Some("lt-1".into()),
                instances: Vec::new(),
                status: None,
            }),
        ),
    ));
    lab
}

fn from_alb() -> Vec<SgPermission> {
    vec![perm(Proto::Tcp, Some(80), SgPeer::Group("sg-alb".into()))]
}

#[test]
fn load_balancer_and_group_endpoints() {
    let lab = with_web_tier(from_alb(), &["subnet-va"], "internet-facing");
    // The internet reaches the load balancer in each of its subnets.
    let answers = lab.ask("internet", "web-alb", 80);
    assert_eq!(answers.len(), 2, "{answers:?}");
    for a in &answers {
        assert!(a.outcome.is_ok(), "{a:?}");
    }
    assert_eq!(answers[0].to, "web-alb in public-a");
    // The load balancer reaches the group through the group reference.
    let to_web = lab.ask("web-alb", "web-asg", 80);
    assert!(to_web.iter().all(|a| a.outcome.is_ok()), "{to_web:?}");
    // Nobody else does: not a host in the VPC, not the internet (no public address).
    let other = lab
        .one("public-b", "web-asg", 80)
        .expect_err("blocked")
        .to_string();
    assert!(other.contains("web-sg"), "{other}");
    let direct = lab
        .one("internet", "web-asg", 80)
        .expect_err("blocked")
        .to_string();
    assert!(
        direct.contains("no route to an internet gateway"),
        "{direct}"
    );
    // The group's instances reach the internet through the NAT gateway.
    let out = lab.one("web-asg", "internet", 443).expect("egress");
    assert!(out.contains("lab-nat"), "{out}");
}

#[test]
fn web_servers_open_to_the_world_let_any_host_in() {
    let lab = with_web_tier(
        vec![perm(Proto::Tcp, Some(80), SgPeer::Cidr("0.0.0.0/0".into()))],
        &["subnet-va"],
        "internet-facing",
    );
    let path = lab.one("public-b", "web-asg", 80).expect("gets through");
    assert!(path.contains("web-sg"), "{path}");
}

#[test]
fn an_internal_load_balancer_is_not_reachable_from_the_internet() {
    let lab = with_web_tier(from_alb(), &["subnet-va"], "internal");
    let answers = lab.ask("internet", "web-alb", 80);
    assert!(answers.iter().all(|a| a.outcome.is_err()), "{answers:?}");
}

#[test]
fn a_group_in_public_subnets_gets_public_addresses() {
    let lab = with_web_tier(
        vec![perm(Proto::Tcp, Some(80), SgPeer::Cidr("0.0.0.0/0".into()))],
        &["subnet-pa", "subnet-pb"],
        "internet-facing",
    );
    // With a rule open to the world, the internet reaches the instances directly.
    let answers = lab.ask("internet", "web-asg", 80);
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(|a| a.outcome.is_ok()), "{answers:?}");
}

#[test]
fn routes_that_do_not_lead_out_are_named_by_what_is_wrong() {
    // No default route at all: the internet part of the flow has no route.
    let mut lab = Lab::new();
    if let Facts::RouteTable(RouteTableFacts { routes, .. }) = lab.facts("private-rt") {
        routes.truncate(1);
    }
    let why = lab.one("app", "internet", 443).expect_err("no route");
    assert!(
        matches!(&why, Blocked::NoRouteToInternet { table, subnet }
            if table.label == "private-rt (rtb-priv)" && subnet == "private-a"),
        "{why:?}"
    );
    assert_eq!(
        why.to_string(),
        "no route to the internet in route table private-rt (rtb-priv), which governs private-a"
    );
    // A default route to something that is not a gateway.
    let mut lab = Lab::new();
    if let Facts::RouteTable(RouteTableFacts { routes, .. }) = lab.facts("private-rt") {
        routes[1] = route("0.0.0.0/0", "pcx-1");
    }
    let why = lab.one("app", "internet", 443).expect_err("peering");
    assert!(
        matches!(&why, Blocked::WrongRoute { dest, target, why: RouteFault::NotToInternet, .. }
            if dest == "0.0.0.0/0" && target == "pcx-1"),
        "{why:?}"
    );
    assert_eq!(
        why.to_string(),
        "route table private-rt (rtb-priv) sends 0.0.0.0/0 to pcx-1, which does not lead to the internet"
    );
    // A route to a NAT gateway that was deleted.
    let mut lab = Lab::new();
    if let Facts::RouteTable(RouteTableFacts { routes, .. }) = lab.facts("private-rt") {
        routes[1].state = "blackhole".into();
    }
    let why = lab.one("app", "internet", 443).expect_err("blackhole");
    assert!(
        matches!(&why, Blocked::WrongRoute { target, why: RouteFault::Blackhole, .. } if target == "lab-nat"),
        "{why:?}"
    );
    // No local route: hosts in the VPC do not reach each other.
    let mut lab = Lab::new();
    if let Facts::RouteTable(RouteTableFacts { routes, .. }) = lab.facts("public-rt") {
        routes.remove(0);
    }
    let why = lab.one("bastion", "app", 22).expect_err("not local");
    assert!(matches!(&why, Blocked::NotLocal { .. }), "{why:?}");
    assert_eq!(
        why.to_string(),
        "route table public-rt (rtb-pub) does not route 10.0.11.10 locally"
    );
}

#[test]
fn endpoints_that_stand_for_no_host_are_unresolved() {
    let lab = Lab::new();
    let world = World {
        items: lab.items.iter().map(|(_, o)| o.clone()).collect(),
        ..World::default()
    };
    let mut bound = Bindings::default();
    for (n, o) in &lab.items {
        bound.insert(n, o.clone());
    }
    let ssh = Traffic {
        proto: Proto::Tcp,
        port: Some(22),
    };
    let ask = |from: Endpoint, to: Endpoint| {
        analyze(&world, &bound, &from, &to, ssh, false).expect_err("unresolved")
    };
    assert_eq!(
        ask(Endpoint::Internet, Endpoint::Internet),
        Unresolved::BothInternet
    );
    let missing = ask(Endpoint::Internet, Endpoint::Resource("web".into()));
    assert_eq!(missing, Unresolved::NotFound { name: "web".into() });
    assert_eq!(missing.to_string(), "`web` was not found");
    let vpc = ask(Endpoint::Internet, Endpoint::Resource("lab-vpc".into()));
    assert!(
        matches!(
            &vpc,
            Unresolved::NotAnEndpoint {
                kind: Kind::Vpc,
                ..
            }
        ),
        "{vpc:?}"
    );
    assert!(
        vpc.to_string()
            .starts_with("`lab-vpc` is a VPC: reachability is asked of instances"),
        "{vpc}"
    );
}
