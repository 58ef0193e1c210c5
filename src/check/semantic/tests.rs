use super::{evaluate, glob, s3_website};
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

fn site(policy: &str) -> Result<String, String> {
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
    assert!(all.contains("more than reading objects: s3:*"), "{all}");
    let tls_only = read.replace(
        r#""Resource""#,
        r#""Condition":{"Bool":{"aws:SecureTransport":"true"}},"Resource""#,
    );
    let conditional = site(&policy(&tls_only)).expect_err("conditional");
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
    let bucket_only = site(&policy(&read.replace("b/*", "b"))).expect_err("no objects");
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
