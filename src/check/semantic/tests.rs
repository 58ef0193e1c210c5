use super::{
    Failure, Gateway, Noun, Routing, Website, each, egress_via_nat, evaluate, glob, private,
    public, s3_website,
};
use crate::lab::{Check, CheckKind, Kind, PublicAccess};
use crate::resources::s3::StoredObject;
use crate::resources::{Bindings, Facts, Observed, RouteEntry, World};
use crate::resources::{
    BucketFacts, BucketPolicyFacts, InternetGatewayFacts, ObjectsFacts, RouteTableFacts,
    SubnetFacts, WebsiteFacts,
};

fn obs(kind: Kind, id: &str, facts: Facts) -> Observed {
    Observed {
        kind,
        id: id.to_owned(),
        tags: Default::default(),
        facts,
    }
}

/// Both private subnets governed by a table that sends 0.0.0.0/0 to the attached internet
/// gateway: the check names each of them.
#[test]
fn private_subnets_names_every_subnet_that_fails() {
    let subnet = |id: &str| {
        obs(
            Kind::Subnet,
            id,
            Facts::Subnet(SubnetFacts {
                vpc_id: Some("vpc-1".into()),
                cidr: None,
                az: None,
                map_public_ip: false,
            }),
        )
    };
    let world = World {
        items: vec![
            subnet("subnet-a"),
            subnet("subnet-b"),
            subnet("subnet-c"),
            obs(
                Kind::InternetGateway,
                "igw-1",
                Facts::InternetGateway(InternetGatewayFacts {
                    attached_vpcs: vec!["vpc-1".into()],
                }),
            ),
            obs(
                Kind::RouteTable,
                "rtb-1",
                Facts::RouteTable(RouteTableFacts {
                    vpc_id: Some("vpc-1".into()),
                    main: false,
                    associations: vec![
                        ("a1".into(), "subnet-a".into()),
                        ("a2".into(), "subnet-b".into()),
                    ],
                    routes: vec![RouteEntry {
                        dest: "0.0.0.0/0".into(),
                        target: Some(crate::resources::RouteTarget::from_id("igw-1")),
                        state: "active".into(),
                    }],
                }),
            ),
            obs(
                Kind::RouteTable,
                "rtb-main",
                Facts::RouteTable(RouteTableFacts {
                    vpc_id: Some("vpc-1".into()),
                    main: true,
                    associations: Vec::new(),
                    routes: Vec::new(),
                }),
            ),
        ],
        azs: Vec::new(),
        ..World::default()
    };
    let mut bound = Bindings::default();
    for (name, id) in [
        ("private-a", "subnet-a"),
        ("private-b", "subnet-b"),
        ("private-c", "subnet-c"),
    ] {
        if let Some(o) = world.get(id) {
            bound.insert(name, o.clone());
        }
    }
    let check = |subnets: &[&str]| Check {
        id: "private-subnets".into(),
        title: "private subnets".into(),
        kind: CheckKind::PrivateSubnet {
            subnets: subnets.iter().map(|s| (*s).to_owned()).collect(),
        },
        points: 2,
        hint: "route 0.0.0.0/0 to the NAT gateway".into(),
    };
    let r = evaluate(
        &check(&["private-a", "private-b", "private-c", "private-d"]),
        &bound,
        &world,
    );
    assert_eq!(r.status, crate::check::Status::Fail);
    assert_eq!(
        r.message,
        "private-a: route table rtb-1 sends 0.0.0.0/0 to internet gateway igw-1, so the subnet is public; \
             private-b: route table rtb-1 sends 0.0.0.0/0 to internet gateway igw-1, so the subnet is public; \
             subnet `private-d` was not found"
    );
    let ok = evaluate(&check(&["private-c"]), &bound, &world);
    assert_eq!(ok.status, crate::check::Status::Pass, "{}", ok.message);
}

fn site(policy: &str) -> Result<String, Failure> {
    let obs = |kind, id: &str, facts| Observed {
        kind,
        id: id.to_owned(),
        tags: Default::default(),
        facts,
    };
    let bucket = obs(
        Kind::Bucket,
        "b",
        Facts::Bucket(BucketFacts {
            versioning: "Enabled".into(),
            sse: Some("AES256".into()),
            bucket_key: true,
            ownership: Some("BucketOwnerEnforced".into()),
            public_access: PublicAccess {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: false,
                restrict_public_buckets: false,
            },
            refused: None,
        }),
    );
    let world = World {
        items: vec![
            bucket.clone(),
            obs(
                Kind::Website,
                "b/website",
                Facts::Website(WebsiteFacts {
                    bucket: "b".into(),
                    index_document: Some("home.html".into()),
                    error_document: None,
                }),
            ),
            obs(
                Kind::Objects,
                "b/objects",
                Facts::Objects(ObjectsFacts {
                    bucket: "b".into(),
                    objects: vec![StoredObject {
                        key: "home.html".into(),
                        etag: "x".into(),
                        content_type: Some("text/html".into()),
                    }],
                }),
            ),
            obs(
                Kind::BucketPolicy,
                "b/policy",
                Facts::BucketPolicy(BucketPolicyFacts {
                    bucket: "b".into(),
                    document: policy.into(),
                }),
            ),
        ],
        azs: Vec::new(),
        ..World::default()
    };
    let mut bound = Bindings::default();
    bound.insert("site", bucket);
    s3_website("site", &bound, &world)
}

fn policy(statement: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
}

#[test]
fn website_policies_are_judged_by_what_they_grant_everyone() {
    let read = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
    assert!(site(&policy(read)).is_ok());
    // Action names are case-insensitive.
    assert!(site(&policy(&read.replace("s3:GetObject", "s3:getobject"))).is_ok());
    let all = site(&policy(&read.replace("s3:GetObject", "s3:*"))).expect_err("too wide");
    assert!(
        matches!(&all, Failure::Website(Website::TooWide { extra })
            if extra.len() == 1 && extra[0].action == "s3:*"),
        "{all:?}"
    );
    let all = all.to_string();
    assert!(all.contains("more than reading objects: s3:*"), "{all}");
    let tls_only = read.replace(
        r#""Resource""#,
        r#""Condition":{"Bool":{"aws:SecureTransport":"true"}},"Resource""#,
    );
    let conditional = site(&policy(&tls_only)).expect_err("conditional");
    assert!(
        matches!(&conditional, Failure::Website(Website::NoPublicRead { bucket, grants })
            if bucket == "b" && grants.len() == 1 && !grants[0].is_plain()),
        "{conditional:?}"
    );
    let conditional = conditional.to_string();
    assert!(
        conditional.contains("does not let everyone read"),
        "{conditional}"
    );
    let deny = format!(
        "{read},{}",
        read.replace("Allow", "Deny").replace("b/*", "b/home.html")
    );
    let denied = site(&policy(&deny)).expect_err("denied");
    assert!(
        matches!(&denied, Failure::Website(Website::Denied { index, .. }) if index == "home.html"),
        "{denied:?}"
    );
    let denied = denied.to_string();
    assert!(
        denied.contains("denies everyone reading home.html"),
        "{denied}"
    );
    // A Deny under a condition (from some addresses only) does not shut everyone out.
    let deny_some = format!(
        "{read},{}",
        read.replace("Allow", "Deny").replace(
            r#""Resource""#,
            r#""Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}},"Resource""#
        )
    );
    assert!(site(&policy(&deny_some)).is_ok());
    // The bucket itself (listing) is not the objects.
    let bucket_only = site(&policy(&read.replace("b/*", "b")))
        .expect_err("no objects")
        .to_string();
    assert!(
        bucket_only.contains("does not let everyone read"),
        "{bucket_only}"
    );
}

#[test]
fn iam_wildcards() {
    assert!(glob("s3:*", "s3:GetObject"));
    assert!(glob("*", "s3:GetObject"));
    assert!(glob("s3:Get*", "s3:GetObject"));
    assert!(!glob("s3:Put*", "s3:GetObject"));
    assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/index.html"));
    assert!(!glob("arn:aws:s3:::b", "arn:aws:s3:::b/index.html"));
    assert!(glob("s3:GetObjec?", "s3:GetObject"));
}

/// A VPC with one subnet per name, all governed by one table whose default route goes to
/// `target`; `igw-1` is attached when `attached`.
fn routed(subnets: &[(&str, &str)], target: &str, attached: bool) -> (World, Bindings) {
    let mut items: Vec<Observed> = subnets
        .iter()
        .map(|(_, id)| {
            obs(
                Kind::Subnet,
                id,
                Facts::Subnet(SubnetFacts {
                    vpc_id: Some("vpc-1".into()),
                    cidr: None,
                    az: None,
                    map_public_ip: false,
                }),
            )
        })
        .collect();
    items.push(obs(
        Kind::InternetGateway,
        "igw-1",
        Facts::InternetGateway(InternetGatewayFacts {
            attached_vpcs: if attached {
                vec!["vpc-1".into()]
            } else {
                Vec::new()
            },
        }),
    ));
    items.push(obs(
        Kind::RouteTable,
        "rtb-1",
        Facts::RouteTable(RouteTableFacts {
            vpc_id: Some("vpc-1".into()),
            main: false,
            associations: subnets
                .iter()
                .map(|(_, id)| (format!("a-{id}"), (*id).to_owned()))
                .collect(),
            routes: vec![RouteEntry {
                dest: "0.0.0.0/0".into(),
                target: Some(crate::resources::RouteTarget::from_id(target)),
                state: "active".into(),
            }],
        }),
    ));
    let world = World {
        items,
        azs: Vec::new(),
        ..World::default()
    };
    let mut bound = Bindings::default();
    for (name, id) in subnets {
        if let Some(o) = world.get(id) {
            bound.insert(name, o.clone());
        }
    }
    (world, bound)
}

#[test]
fn subnet_failures_name_the_route_and_the_gateway() {
    let (world, bound) = routed(&[("public-a", "subnet-a")], "igw-1", false);
    let subnet = bound.get("public-a").expect("bound");
    // A route to a detached gateway does not make a subnet public.
    let why = public("public-a", subnet, &bound, &world).expect_err("detached");
    assert!(
        matches!(&why, Failure::Subnet { subnet, why: Routing::GatewayDetached { table, gateway } }
            if subnet == "public-a" && table == "rtb-1" && gateway == "igw-1"),
        "{why:?}"
    );
    assert_eq!(
        why.to_string(),
        "public-a: route table rtb-1 sends 0.0.0.0/0 to internet gateway igw-1, which is not attached to the VPC"
    );
    // Egress through a NAT gateway asks for a NAT gateway as the target.
    let why = egress_via_nat("public-a", subnet, &bound, &world).expect_err("no NAT");
    assert!(
        matches!(&why, Failure::Subnet { why: Routing::WrongTarget { target, want: Gateway::Nat, .. }, .. }
            if target == "igw-1"),
        "{why:?}"
    );
    assert_eq!(
        why.to_string(),
        "public-a: route table rtb-1 sends 0.0.0.0/0 to igw-1, not to a NAT gateway"
    );
    // A NAT gateway the route names that does not exist.
    let (world, bound) = routed(&[("private-a", "subnet-a")], "nat-1", true);
    let subnet = bound.get("private-a").expect("bound");
    let why = egress_via_nat("private-a", subnet, &bound, &world).expect_err("blackhole");
    assert!(
        matches!(&why, Failure::Subnet { why: Routing::NatMissing { nat, .. }, .. } if nat == "nat-1"),
        "{why:?}"
    );
}

#[test]
fn every_failing_subnet_is_its_own_failure() {
    let (world, bound) = routed(
        &[("private-a", "subnet-a"), ("private-b", "subnet-b")],
        "igw-1",
        true,
    );
    let names: Vec<String> = ["private-a", "private-b", "private-c"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let why = each(&names, &bound, |name, s| private(name, s, &bound, &world)).expect_err("public");
    let Failure::Several(failures) = &why else {
        panic!("not several: {why:?}");
    };
    assert_eq!(failures.len(), 3, "{why:?}");
    assert!(
        matches!(&failures[0], Failure::Subnet { subnet, why: Routing::Public { dest, gateway, .. } }
            if subnet == "private-a" && dest == "0.0.0.0/0" && gateway == "igw-1"),
        "{why:?}"
    );
    assert_eq!(
        failures[2],
        Failure::NotFound {
            noun: Some(Noun::Subnet),
            name: "private-c".into()
        }
    );
    // One failure is that failure, not a list of one.
    let one = each(&names[..1], &bound, |name, s| {
        private(name, s, &bound, &world)
    })
    .expect_err("public");
    assert!(matches!(one, Failure::Subnet { .. }), "{one:?}");
    assert_eq!(
        one.to_string(),
        "private-a: route table rtb-1 sends 0.0.0.0/0 to internet gateway igw-1, so the subnet is public"
    );
}
