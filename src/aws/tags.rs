//! The awslab tags: what makes a resource the lab's, and how to find it again.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

pub const LAB: &str = "awslab:lab";
pub const ENV: &str = "awslab:env";
pub const RESOURCE: &str = "awslab:resource";
pub const EXPIRES: &str = "awslab:expires-at";
pub const CREATED: &str = "awslab:created-at";
/// Dollars the env may cost (`up --budget`): `sweep --over-budget` deletes it past that.
pub const BUDGET: &str = "awslab:budget";
pub const NAME: &str = "Name";

/// Tags as a map (EC2 returns them as a list).
pub type Tags = BTreeMap<String, String>;

pub fn from_ec2(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The owner part (lab and env) of a parent's tags: what a child listed with it carries.
pub fn owner_part(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| *k == LAB || *k == ENV)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Which lab environment a command works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub lab: String,
    pub env: String,
    /// Extra tags `up` stamps on what it creates (`awslab:created-at`, `awslab:expires-at`).
    pub stamps: Vec<(String, String)>,
    /// Different for every command run: client tokens are idempotent within one run only (a
    /// token AWS has seen returns what it made then, even after that was deleted).
    run: u64,
}

impl Owner {
    /// The tags every resource of this owner gets at creation.
    pub fn new(lab: &str, env: &str) -> Owner {
        Owner {
            lab: lab.to_owned(),
            env: env.to_owned(),
            stamps: Vec::new(),
            run: fastrand::u64(..),
        }
    }

    /// A short code of the owner: the first 10 hex digits of SHA-256 over the lab id and the
    /// env as written. Names built from lab and env alone are ambiguous (lab `a-b` env `c` and
    /// lab `a` env `b-c`; `Alice` and `alice` where a service lowercases): the code keeps every
    /// owner's names apart.
    pub fn code(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.lab.as_bytes());
        h.update([0]);
        h.update(self.env.as_bytes());
        h.finalize()
            .iter()
            .take(5)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The idempotency token of one create: the same for every attempt of this run (a lost
    /// answer retried by the SDK cannot create twice), different in the next run.
    pub fn client_token(&self, logical: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [self.lab.as_str(), self.env.as_str(), logical] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(self.run.to_be_bytes());
        let digest = h.finalize();
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("awslab-{hex}")
    }

    pub fn tags_for(&self, logical: &str) -> Vec<(String, String)> {
        let mut tags = vec![
            (NAME.to_owned(), logical.to_owned()),
            (LAB.to_owned(), self.lab.clone()),
            (ENV.to_owned(), self.env.clone()),
            (RESOURCE.to_owned(), logical.to_owned()),
        ];
        tags.extend(self.stamps.iter().cloned());
        tags
    }

    /// A create-time `TagSpecification` (never a second call that a crash could skip).
    pub fn tag_spec(&self, rtype: ResourceType, logical: &str) -> TagSpecification {
        let mut b = TagSpecification::builder().resource_type(rtype);
        for (k, v) in self.tags_for(logical) {
            b = b.tags(Tag::builder().key(k).value(v).build());
        }
        b.build()
    }

    /// EC2 filters that select this owner's resources.
    pub fn filters(&self) -> Vec<Filter> {
        vec![
            Filter::builder()
                .name(format!("tag:{LAB}"))
                .values(&self.lab)
                .build(),
            Filter::builder()
                .name(format!("tag:{ENV}"))
                .values(&self.env)
                .build(),
        ]
    }

    /// The tags of a resource that has none of its own and is known through its parent (a
    /// listener, a bucket's policy, an image): the owner's lab and env, and a `Name` for messages.
    pub fn child_tags(&self, name: &str) -> Tags {
        let mut t = Tags::new();
        t.insert(LAB.to_owned(), self.lab.clone());
        t.insert(ENV.to_owned(), self.env.clone());
        t.insert(NAME.to_owned(), name.to_owned());
        t
    }

    /// The same run for another env (tests of what the token depends on).
    #[cfg(test)]
    fn clone_for_env(&self, env: &str) -> Owner {
        Owner {
            env: env.to_owned(),
            ..self.clone()
        }
    }

    pub fn owns(&self, tags: &Tags) -> bool {
        tags.get(LAB) == Some(&self.lab) && tags.get(ENV) == Some(&self.env)
    }
}

#[cfg(test)]
mod tests {
    use super::Owner;

    #[test]
    fn client_tokens_are_stable_within_a_run_and_new_in_the_next() {
        let run = Owner::new("vpc-public-private", "alice");
        let t = run.client_token("bastion");
        assert_eq!(t, run.client_token("bastion"), "every attempt of a run");
        assert_ne!(t, run.client_token("lab-nat"), "one per resource");
        let next = Owner::new("vpc-public-private", "alice");
        assert_ne!(t, next.client_token("bastion"), "a new run, a new token");
        assert_ne!(
            t,
            run.clone_for_env("bob").client_token("bastion"),
            "one per env"
        );
        assert!(t.len() <= 64 && t.is_ascii(), "{t}");
    }
}
