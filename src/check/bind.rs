//! Finding each declared resource in what `check` discovered: by the awslab tags when the tool
//! made it, else by its name (its `Name` tag, or the kind's own name: a key pair's, a security
//! group's, a load balancer's; behind the `--name-prefix` when one is given), else through its
//! relations (the route table associated with `public-a`, the NAT gateway's address) for
//! resources nobody names. Each binding says which of these found it.

use std::collections::BTreeMap;

use super::names::Names;
use super::report::FoundBy;
use crate::aws::tags::{self, Owner};
use crate::lab::{Kind, Lab, Resource, Spec};
use crate::resources::{Bindings, Facts, Observed, World, key_name};
use crate::resources::{
    BucketPolicySpec, ElasticIpSpec, ImageSpec, InternetGatewayFacts, InternetGatewaySpec,
    KeyPairFacts, LaunchTemplateFacts, ListenerSpec, LoadBalancerFacts, MountTargetFacts,
    MountTargetSpec, NatGatewayFacts, NatGatewaySpec, NetworkAclSpec, ObjectsSpec, RepositorySpec,
    RouteTableSpec, ScalingPolicySpec, SecurityGroupFacts, TargetGroupFacts, WebsiteSpec,
};

#[derive(Debug, Clone)]
pub enum Binding {
    Found(FoundBy),
    Missing { reason: String },
    Ambiguous { ids: Vec<String> },
}

/// Candidates of a kind: anything not owned by another lab or env.
fn candidates<'w>(
    world: &'w World,
    owner: &Owner,
    kind: Kind,
) -> impl Iterator<Item = &'w Observed> {
    let owner = owner.clone();
    world
        .of_kind(kind)
        .filter(move |o| !o.tags.contains_key(tags::LAB) || owner.owns(&o.tags))
}

fn by_tags<'w>(world: &'w World, owner: &Owner, res: &Resource) -> Option<&'w Observed> {
    candidates(world, owner, res.kind()).find(|o| {
        owner.owns(&o.tags)
            && o.tags.get(tags::RESOURCE).map(String::as_str) == Some(res.name.as_str())
    })
}

/// The name `o` carries that makes it `res`, with how it matched: the kind's own name first (a
/// key pair's key name, a security group's group name, a load balancer's name), else its
/// `Name` tag.
fn name_match(o: &Observed, owner: &Owner, names: &Names, res: &Resource) -> Option<FoundBy> {
    let want = names.of(&res.name);
    let own = |what: &str, name: &str| (name == want).then(|| FoundBy::name(&o.id, what, name));
    let by_own = match &o.facts {
        Facts::SecurityGroup(SecurityGroupFacts { group_name, .. }) => {
            own("group name", group_name)
        }
        // awslab's own key name for the env (`<lab>-<env>-<name>`) is the env's too.
        Facts::KeyPair(KeyPairFacts { key_name: k }) => own("key name", k).or_else(|| {
            (*k == key_name(owner, &res.name)).then(|| FoundBy::name(&o.id, "key name", k))
        }),
        Facts::IamRole(_) => own("role name", &o.id),
        Facts::InstanceProfile(_) => own("instance profile name", &o.id),
        // Their own names (a `Name` tag, when set, may say something else).
        Facts::LoadBalancer(LoadBalancerFacts { name, .. }) => own("load balancer name", name),
        Facts::TargetGroup(TargetGroupFacts { name, .. }) => own("target group name", name),
        Facts::LaunchTemplate(LaunchTemplateFacts { name, .. }) => {
            own("launch template name", name)
        }
        Facts::AutoScalingGroup(_) => own("Auto Scaling group name", &o.id),
        // The repository name the lab gives (`lab/web`).
        Facts::Repository(_) => match &res.spec {
            Spec::Repository(RepositorySpec { name, .. }) if names.of(name) == o.id => {
                Some(FoundBy::name(&o.id, "repository name", &o.id))
            }
            _ => None,
        },
        // `<name>-<code>-<account>`: the name the lab tells the student to use, already the
        // env's own.
        Facts::Bucket(_) => crate::resources::s3::is_name_of(&o.id, owner, &res.name)
            .then(|| FoundBy::name(&o.id, "bucket name", &o.id)),
        _ => None,
    };
    by_own.or_else(|| {
        (o.name_tag() == Some(want.as_str())).then(|| FoundBy::name(&o.id, "Name tag", &want))
    })
}

fn by_name<'w>(
    world: &'w World,
    owner: &Owner,
    names: &Names,
    res: &Resource,
) -> Vec<(&'w Observed, FoundBy)> {
    candidates(world, owner, res.kind())
        .filter_map(|o| name_match(o, owner, names, res).map(|f| (o, f)))
        .collect()
}

fn by_relation<'w>(
    world: &'w World,
    owner: &Owner,
    lab: &Lab,
    res: &Resource,
    bound: &Bindings,
) -> Option<(&'w Observed, String)> {
    match &res.spec {
        Spec::InternetGateway(InternetGatewaySpec { vpc }) => {
            let vpc_id = bound.id(vpc)?;
            world
                .of_kind(Kind::InternetGateway)
                .find(|g| matches!(&g.facts, Facts::InternetGateway(InternetGatewayFacts { attached_vpcs }) if attached_vpcs.iter().any(|v| v == vpc_id)))
                .map(|g| (g, format!("through its attachment to {vpc}")))
        }
        Spec::RouteTable(RouteTableSpec { subnets, .. }) => subnets.iter().find_map(|s| {
            let t = world.route_table_of(bound.id(s)?)?;
            let how = if t.is_vpc_default() {
                format!("as the main route table, which governs {s}")
            } else {
                format!("through its association with {s}")
            };
            Some((t, how))
        }),
        Spec::NetworkAcl(NetworkAclSpec { subnets, .. }) => subnets.iter().find_map(|s| {
            let a = world.nacl_of(bound.id(s)?)?;
            (!a.is_vpc_default()).then(|| (a, format!("through its association with {s}")))
        }),
        Spec::MountTarget(MountTargetSpec {
            file_system,
            subnet,
            ..
        }) => {
            let (fs, sn) = (bound.id(file_system)?, bound.id(subnet)?);
            world
                .of_kind(Kind::MountTarget)
                .find(|m| matches!(&m.facts, Facts::MountTarget(MountTargetFacts { file_system_id, subnet_id, .. }) if file_system_id == fs && subnet_id == sn))
                .map(|m| (m, format!("as the mount target of {file_system} in {subnet}")))
        }
        Spec::Listener(ListenerSpec {
            load_balancer,
            port,
            ..
        }) => crate::resources::kind(Kind::Listener)
            .find_existing(world, owner, res, bound)
            .map(|l| {
                (
                    l,
                    format!("as the listener on port {port} of {load_balancer}"),
                )
            }),
        Spec::ScalingPolicy(ScalingPolicySpec { group, .. }) => {
            crate::resources::kind(Kind::ScalingPolicy)
                .find_existing(world, owner, res, bound)
                .map(|p| (p, format!("as the target tracking policy of {group}")))
        }
        Spec::BucketPolicy(BucketPolicySpec { bucket, .. })
        | Spec::Website(WebsiteSpec { bucket, .. })
        | Spec::Objects(ObjectsSpec { bucket, .. }) => crate::resources::kind(res.kind())
            .find_existing(world, owner, res, bound)
            .map(|o| (o, format!("as part of bucket {bucket}"))),
        Spec::Image(ImageSpec {
            repository, tag, ..
        }) => crate::resources::kind(Kind::Image)
            .find_existing(world, owner, res, bound)
            .map(|o| (o, format!("as tag {tag} of {repository}"))),
        Spec::NatGateway(NatGatewaySpec { subnet, .. }) => {
            let subnet_id = bound.id(subnet)?;
            world
                .of_kind(Kind::NatGateway)
                .find(|n| n.subnet_id() == Some(subnet_id))
                .map(|n| (n, format!("as the NAT gateway in {subnet}")))
        }
        Spec::ElasticIp(ElasticIpSpec) => lab.resources.iter().find_map(|r| match &r.spec {
            Spec::NatGateway(NatGatewaySpec { eip, .. }) if *eip == res.name => {
                let nat = bound.get(&r.name)?;
                let Facts::NatGateway(NatGatewayFacts { allocation_ids, .. }) = &nat.facts else {
                    return None;
                };
                let e = world
                    .of_kind(Kind::ElasticIp)
                    .find(|e| allocation_ids.contains(&e.id))?;
                Some((e, format!("as the address of {}", r.name)))
            }
            _ => None,
        }),
        _ => None,
    }
}

/// Binds every resource of the lab; resources found feed the relations of the others.
/// Hand-built resources are found by the names `names` gives them.
pub fn bind(
    lab: &Lab,
    world: &World,
    owner: &Owner,
    names: &Names,
) -> (Bindings, BTreeMap<String, Binding>) {
    let mut bound = Bindings::default();
    let mut result: BTreeMap<String, Binding> = BTreeMap::new();
    for res in &lab.resources {
        if let Some(o) = by_tags(world, owner, res) {
            bound.insert(&res.name, o.clone());
            result.insert(res.name.clone(), Binding::Found(FoundBy::tags(&o.id)));
            continue;
        }
        let named = by_name(world, owner, names, res);
        match named.as_slice() {
            [] => {}
            [(one, how)] => {
                bound.insert(&res.name, (*one).clone());
                result.insert(res.name.clone(), Binding::Found(how.clone()));
            }
            many => {
                result.insert(
                    res.name.clone(),
                    Binding::Ambiguous {
                        ids: many.iter().map(|(o, _)| o.id.clone()).collect(),
                    },
                );
            }
        }
    }
    // Relations, until nothing more is found.
    loop {
        let mut progress = false;
        for res in &lab.resources {
            if result.contains_key(&res.name) {
                continue;
            }
            if let Some((o, how)) = by_relation(world, owner, lab, res, &bound) {
                bound.insert(&res.name, o.clone());
                result.insert(
                    res.name.clone(),
                    Binding::Found(FoundBy::relation(&o.id, how)),
                );
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    for res in &lab.resources {
        result
            .entry(res.name.clone())
            .or_insert_with(|| Binding::Missing {
                reason: missing_reason(res, names),
            });
    }
    (bound, result)
}

fn missing_reason(res: &Resource, names: &Names) -> String {
    match &res.spec {
        Spec::RouteTable(RouteTableSpec { subnets, .. }) => {
            format!("no route table governs {}", subnets.join(" or "))
        }
        Spec::NetworkAcl(NetworkAclSpec { subnets, .. }) => {
            format!(
                "{} use the VPC's default network ACL, not a custom one",
                subnets.join(" and ")
            )
        }
        Spec::MountTarget(MountTargetSpec {
            file_system,
            subnet,
            ..
        }) => format!("{file_system} has no mount target in {subnet}"),
        Spec::NatGateway(NatGatewaySpec { subnet, .. }) => {
            format!(
                "no NAT gateway named `{}` and none in {subnet}",
                names.of(&res.name)
            )
        }
        Spec::Listener(ListenerSpec {
            load_balancer,
            port,
            ..
        }) => format!("{load_balancer} has no listener on port {port}"),
        Spec::ScalingPolicy(ScalingPolicySpec { group, .. }) => {
            format!("{group} has no target tracking scaling policy")
        }
        Spec::BucketPolicy(BucketPolicySpec { bucket, .. }) => {
            format!("{bucket} has no bucket policy")
        }
        Spec::Website(WebsiteSpec { bucket, .. }) => {
            format!("{bucket} has no static website hosting configured")
        }
        Spec::Objects(ObjectsSpec { bucket, .. }) => {
            format!("{bucket} was not found, so neither its objects")
        }
        Spec::Image(ImageSpec {
            repository, tag, ..
        }) => {
            format!("{repository} has no image tagged {tag}")
        }
        Spec::Repository(RepositorySpec { name, .. }) => {
            format!("no ECR repository named `{}`", names.of(name))
        }
        Spec::Bucket(_) => format!(
            "no bucket named as the lab says (`awslab show` prints the name: `{}-<code of lab and env>-<account id>`)",
            res.name
        ),
        Spec::InternetGateway(InternetGatewaySpec { vpc }) => format!(
            "no internet gateway named `{}` and none attached to {vpc}",
            names.of(&res.name)
        ),
        _ => format!("no {} named `{}`", res.kind().label(), names.of(&res.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::{Binding, bind};
    use crate::aws::tags::{NAME, Owner, Tags};
    use crate::check::Names;
    use crate::check::report::Method;
    use crate::lab::{Kind, Lab};
    use crate::resources::{Facts, Observed, World};
    use crate::resources::{
        KeyPairFacts, RouteTableFacts, SecurityGroupFacts, SubnetFacts, VpcFacts,
    };

    fn lab() -> Lab {
        crate::lab::catalog::load_lab("vpc-public-private", &Default::default())
            .expect("bundled lab")
            .lab
    }

    fn obs(kind: Kind, id: &str, name: Option<&str>, facts: Facts) -> Observed {
        let mut tags = Tags::new();
        if let Some(n) = name {
            tags.insert(NAME.to_owned(), n.to_owned());
        }
        Observed {
            kind,
            id: id.to_owned(),
            tags,
            facts,
        }
    }

    fn vpc(id: &str, name: &str) -> Observed {
        obs(
            Kind::Vpc,
            id,
            Some(name),
            Facts::Vpc(VpcFacts {
                cidr: None,
                dns_hostnames: None,
                is_default: false,
            }),
        )
    }

    fn subnet(id: &str, name: &str, vpc: &str) -> Observed {
        obs(
            Kind::Subnet,
            id,
            Some(name),
            Facts::Subnet(SubnetFacts {
                vpc_id: Some(vpc.to_owned()),
                cidr: None,
                az: None,
                map_public_ip: true,
            }),
        )
    }

    fn key(id: &str, key_name: &str) -> Observed {
        obs(
            Kind::KeyPair,
            id,
            None,
            Facts::KeyPair(KeyPairFacts {
                key_name: key_name.to_owned(),
            }),
        )
    }

    /// Two students' hand-built setups in one account: alice's with the lab's names, bob's
    /// behind `bob-`. Key pairs and security groups carry no `Name` tag, as the console makes
    /// them.
    fn shared_account() -> World {
        World {
            items: vec![
                vpc("vpc-a", "lab-vpc"),
                vpc("vpc-b", "bob-lab-vpc"),
                subnet("subnet-a", "public-a", "vpc-a"),
                subnet("subnet-b", "bob-public-a", "vpc-b"),
                obs(
                    Kind::RouteTable,
                    "rtb-a",
                    None,
                    Facts::RouteTable(RouteTableFacts {
                        vpc_id: Some("vpc-a".into()),
                        main: false,
                        associations: vec![("rtbassoc-a".into(), "subnet-a".into())],
                        routes: Vec::new(),
                    }),
                ),
                obs(
                    Kind::SecurityGroup,
                    "sg-a",
                    None,
                    Facts::SecurityGroup(SecurityGroupFacts {
                        vpc_id: Some("vpc-a".into()),
                        group_name: "app-sg".into(),
                        ingress: Vec::new(),
                        egress: Vec::new(),
                    }),
                ),
                key("key-a", "lab-key"),
                key("key-b", "bob-lab-key"),
            ],
            azs: Vec::new(),
            ..World::default()
        }
    }

    fn found(b: &std::collections::BTreeMap<String, Binding>, name: &str) -> (String, String) {
        match b.get(name) {
            Some(Binding::Found(f)) => (f.id.clone(), f.how.clone()),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn evidence_says_which_name_or_relation_found_it() {
        let (_, b) = bind(
            &lab(),
            &shared_account(),
            &Owner::new("vpc-public-private", "alice"),
            &Names::unprefixed(),
        );
        assert_eq!(
            found(&b, "lab-vpc"),
            ("vpc-a".into(), "by Name tag `lab-vpc`".into())
        );
        assert_eq!(
            found(&b, "lab-key"),
            ("key-a".into(), "by key name `lab-key`".into())
        );
        assert_eq!(
            found(&b, "app-sg"),
            ("sg-a".into(), "by group name `app-sg`".into())
        );
        assert_eq!(
            found(&b, "public-rt"),
            (
                "rtb-a".into(),
                "through its association with public-a".into()
            )
        );
        let Some(Binding::Found(rt)) = b.get("public-rt") else {
            panic!("public-rt");
        };
        assert_eq!(rt.method, Method::Relation);
    }

    #[test]
    fn a_prefix_adopts_only_what_carries_it() {
        let world = shared_account();
        let owner = Owner::new("vpc-public-private", "bob");
        let bob = Names::parse("bob-", "bob").expect("prefix");
        let (bound, b) = bind(&lab(), &world, &owner, &bob);
        assert_eq!(
            found(&b, "lab-vpc"),
            ("vpc-b".into(), "by Name tag `bob-lab-vpc`".into())
        );
        assert_eq!(
            found(&b, "lab-key"),
            ("key-b".into(), "by key name `bob-lab-key`".into())
        );
        assert_eq!(bound.id("public-a"), Some("subnet-b"));
        // Nothing of alice's: her group and her route table stay unbound.
        match b.get("app-sg") {
            Some(Binding::Missing { reason }) => {
                assert_eq!(reason, "no security group named `bob-app-sg`");
            }
            other => panic!("app-sg: {other:?}"),
        }
        assert!(matches!(b.get("public-rt"), Some(Binding::Missing { .. })));
        for alice in ["vpc-a", "subnet-a", "rtb-a", "sg-a", "key-a"] {
            assert_eq!(bound.name_of(alice), None, "{alice} adopted for bob");
        }
    }
}
