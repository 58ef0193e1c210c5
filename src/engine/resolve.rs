//! Binding a lab's logical names to what exists, for every command: `up`, `plan`, `show`,
//! `check`. Some kinds are found only through what they belong to or are attached to (a
//! listener through its load balancer, a route table through its subnet): the first pass is
//! told it is the first (so a finder can find what is named before following relations), and
//! a pass that binds anything is followed by another, until one after the first binds nothing.

use std::collections::BTreeMap;

use crate::lab::Resource;
use crate::resources::{Bindings, Observed};

/// What a finder says of one resource.
pub enum Found<'w, H> {
    /// This one, and how it was found.
    Bound(&'w Observed, H),
    /// Settled without a binding (several candidates, none chosen): not asked again.
    Settled(H),
    /// Not found: asked again after a pass that bound something else.
    No,
}

/// Binds `resources` with `find` (given the bindings so far and whether this is the first
/// pass) until a pass after the first binds nothing: the bindings, and for each resource found
/// or settled what `find` said of it.
pub fn resolve<'w, H>(
    resources: &[Resource],
    mut find: impl FnMut(&Resource, &Bindings, bool) -> Found<'w, H>,
) -> (Bindings, BTreeMap<String, H>) {
    let mut bound = Bindings::default();
    let mut settled = BTreeMap::new();
    let mut first = true;
    loop {
        let mut progress = false;
        for r in resources {
            if settled.contains_key(&r.name) {
                continue;
            }
            match find(r, &bound, first) {
                Found::Bound(o, how) => {
                    bound.insert(&r.name, o.clone());
                    settled.insert(r.name.clone(), how);
                    progress = true;
                }
                Found::Settled(how) => {
                    settled.insert(r.name.clone(), how);
                }
                Found::No => {}
            }
        }
        if !progress && !first {
            return (bound, settled);
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::{Found, resolve};
    use crate::aws::tags::Tags;
    use crate::lab::{Kind, Resource, Spec, Stage};
    use crate::resources::{
        ElasticIpFacts, ElasticIpSpec, Facts, KeyPairSpec, NatGatewaySpec, Observed,
    };

    fn res(name: &str, spec: Spec) -> Resource {
        Resource {
            name: name.to_owned(),
            stage: Stage::Setup,
            spec,
        }
    }

    fn eip(id: &str) -> Observed {
        Observed {
            kind: Kind::ElasticIp,
            id: id.to_owned(),
            tags: Tags::new(),
            facts: Facts::ElasticIp(ElasticIpFacts {
                public_ip: None,
                association_id: None,
            }),
        }
    }

    /// A pass that binds nothing after the first still ends it; a resource found only through
    /// one listed after it is bound on a later pass; one that stays unfound costs no endless
    /// loop; a settled one is not asked again.
    #[test]
    fn what_is_found_through_another_is_bound_on_a_later_pass() {
        let lab = vec![
            res(
                "nat",
                Spec::NatGateway(NatGatewaySpec {
                    subnet: "s".into(),
                    eip: "ip".into(),
                }),
            ),
            res("ip", Spec::ElasticIp(ElasticIpSpec)),
            res("key", Spec::KeyPair(KeyPairSpec)),
            res("twice", Spec::KeyPair(KeyPairSpec)),
        ];
        let world = [eip("eipalloc-1"), eip("eipalloc-2")];
        let mut asked = Vec::new();
        let (bound, how) = resolve(&lab, |r, b, first| {
            asked.push(r.name.clone());
            match r.name.as_str() {
                "ip" if !first => Found::Bound(&world[0], "directly"),
                "nat" if b.get("ip").is_some() => Found::Bound(&world[1], "through ip"),
                "twice" => Found::Settled("ambiguous"),
                _ => Found::No,
            }
        });
        assert_eq!(bound.id("ip"), Some("eipalloc-1"));
        assert_eq!(bound.id("nat"), Some("eipalloc-2"));
        assert_eq!(bound.id("key"), None);
        assert_eq!(bound.id("twice"), None);
        assert_eq!(how.get("nat"), Some(&"through ip"));
        assert_eq!(how.get("twice"), Some(&"ambiguous"));
        assert_eq!(how.get("key"), None);
        // Pass 1 (the first: nothing found): all four; pass 2: nat (ip not bound yet), ip
        // bound, key; pass 3: nat bound, key; pass 4: key, and nothing new.
        assert_eq!(
            asked,
            [
                "nat", "ip", "key", "twice", "nat", "ip", "key", "nat", "key", "key"
            ]
            .map(str::to_owned)
        );
    }
}
