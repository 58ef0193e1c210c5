//! Finding each declared resource in what `check` discovered: by the awslab tags when the tool
//! made it, else by its name (its `Name` tag, or the kind's own name: a key pair's, a security
//! group's, a load balancer's; behind the `--name-prefix` when one is given), else through its
//! relations (the route table associated with `public-a`, the NAT gateway's address) for
//! resources nobody names. Each binding says which of these found it.

use std::collections::BTreeMap;

use super::names::Names;
use super::report::FoundBy;
use crate::aws::tags::{self, Owner};
use crate::engine::resolve::{Found, resolve};
use crate::lab::{Kind, Lab, Resource};
use crate::resources::{Bindings, Observed, World};

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
    res.kind()
        .handler()
        .own_name(o, res, owner, names)
        .or_else(|| {
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

/// Binds every resource of the lab: by the owner's tags, else by name, and what neither finds
/// through its relations to what is already bound (the route table associated with `public-a`, the NAT
/// gateway's address). Hand-built resources are found by the names `names` gives them.
pub fn bind(
    lab: &Lab,
    world: &World,
    owner: &Owner,
    names: &Names,
) -> (Bindings, BTreeMap<String, Binding>) {
    let (bound, mut result) = resolve(&lab.resources, |res, bound, first| {
        if let Some(o) = by_tags(world, owner, res) {
            return Found::Bound(o, Binding::Found(FoundBy::tags(&o.id)));
        }
        match by_name(world, owner, names, res).as_slice() {
            [] => {}
            [(one, how)] => return Found::Bound(one, Binding::Found(how.clone())),
            many => {
                return Found::Settled(Binding::Ambiguous {
                    ids: many.iter().map(|(o, _)| o.id.clone()).collect(),
                });
            }
        }
        // Relations once everything named is bound.
        if first {
            return Found::No;
        }
        match res.kind().handler().related(world, owner, lab, res, bound) {
            Some((o, how)) => Found::Bound(o, Binding::Found(FoundBy::relation(&o.id, how))),
            None => Found::No,
        }
    });
    for res in &lab.resources {
        result
            .entry(res.name.clone())
            .or_insert_with(|| Binding::Missing {
                reason: res.kind().handler().missing(res, names),
            });
    }
    (bound, result)
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
