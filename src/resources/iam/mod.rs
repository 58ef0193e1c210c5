//! IAM roles and instance profiles. IAM is global, a lab environment regional: awslab's own
//! belong to the region whose `up` made them. IAM cannot filter listings by tag, so they live
//! under the path `/awslab/<lab>/<env>/<region>/<name>/` and are named
//! `awslab-<lab>-<env>-<code>-<region>-<name>` (names are unique in the account), found with
//! one listing by path prefix; the tags are set too, for the console. Those under the path
//! without a region (`/awslab/<lab>/<env>/<name>/`, "global") belong to the env in every
//! region. A hand-built role or profile is found by its name.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use super::{ApplyCx, Attr, Bindings, DestroyCx, Facts, Observed, ResourceKind, Scope, World};
use crate::aws::tags::{self, Owner, Tags};
use crate::aws::{Aws, AwsError, Fault, created_at};
use crate::lab::validate::{ParseSpec, SpecCx};
use crate::lab::{Kind, Resource, Spec};
use crate::resources::InstanceFacts;
use toml::Spanned;

mod profile;
mod role;

pub use profile::{
    InstanceProfile, InstanceProfileFacts, InstanceProfileKeys, InstanceProfileSpec,
};
pub use role::{IamRole, IamRoleFacts, IamRoleKeys, IamRoleSpec};

const ROOT: &str = "/awslab/";

/// The tag (and, in [`Observed::tags`], the part of the path) that names the region an IAM
/// resource belongs to; a global one has none.
pub const REGION: &str = "awslab:region";

/// What a student does when `check` finds no role or profile: IAM names are the lab's own,
/// and `up --stage setup` makes them.
fn create_hint(res: &Resource) -> String {
    format!(
        "create the {} `{}` as the instructions say (or run `awslab up --stage setup`)",
        res.kind().label(),
        res.name
    )
}

/// The IAM path of an owner's resource made in `region`.
pub fn path_of(owner: &Owner, region: &str, logical: &str) -> String {
    format!("{ROOT}{}/{}/{region}/{logical}/", owner.lab, owner.env)
}

/// `full`, or when it is longer than 64 characters (IAM's limit, also that of launch template
/// and Auto Scaling names) its first 55 and a short, stable hash of the whole, which keeps
/// shortened names apart.
fn bounded(full: String) -> String {
    if full.chars().count() <= 64 {
        return full;
    }
    // FNV-1a.
    let hash = full.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let head: String = full.chars().take(55).collect();
    format!("{head}-{:08x}", hash & 0xffff_ffff)
}

/// One IAM tag, for `up --ttl`.
fn iam_tag(name: &str, key: &str, value: &str) -> Result<aws_sdk_iam::types::Tag, AwsError> {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| AwsError::from_fault("iam:Tag", name, Fault::BadTag(e)))
}

/// A name unique in the region, at most 64 characters (for regional kinds that take the
/// owner's name: launch templates, Auto Scaling groups, EFS creation tokens). The owner's
/// [`Owner::code`] keeps owners apart whose lab and env read alike.
pub fn name_of(owner: &Owner, logical: &str) -> String {
    bounded(format!(
        "awslab-{}-{}-{}-{logical}",
        owner.lab,
        owner.env,
        owner.code()
    ))
}

/// The name of an owner's IAM resource made in `region`: unique in the account, at most 64
/// characters.
pub fn iam_name_of(owner: &Owner, region: &str, logical: &str) -> String {
    bounded(format!(
        "awslab-{}-{}-{}-{region}-{logical}",
        owner.lab,
        owner.env,
        owner.code()
    ))
}

/// The owner tags an awslab path stands for: `/awslab/<lab>/<env>/<region>/<name>/`, or a
/// global one's `/awslab/<lab>/<env>/<name>/` (no [`REGION`]).
fn tags_from_path(path: &str) -> Tags {
    let mut t = Tags::new();
    let parts: Vec<&str> = path
        .strip_prefix(ROOT)
        .unwrap_or_default()
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let (lab, env, region, logical) = match parts.as_slice() {
        [lab, env, logical] => (lab, env, None, logical),
        [lab, env, region, logical] => (lab, env, Some(region), logical),
        _ => return t,
    };
    t.insert(tags::LAB.to_owned(), (*lab).to_owned());
    t.insert(tags::ENV.to_owned(), (*env).to_owned());
    t.insert(tags::RESOURCE.to_owned(), (*logical).to_owned());
    t.insert(tags::NAME.to_owned(), (*logical).to_owned());
    if let Some(region) = region {
        t.insert(REGION.to_owned(), (*region).to_owned());
    }
    t
}

/// The region an IAM resource of awslab's belongs to; `None`: global (made before IAM was
/// scoped to regions), or not awslab's.
pub fn region_of(o: &Observed) -> Option<&str> {
    o.tags.get(REGION).map(String::as_str)
}

/// An IAM resource of awslab's under a path without a region: the env's in every region.
pub fn is_global(o: &Observed) -> bool {
    matches!(o.kind, Kind::IamRole | Kind::InstanceProfile)
        && o.tags.contains_key(tags::LAB)
        && region_of(o).is_none()
}

/// What to list: the path prefix, names also wanted outside it, and the one region whose
/// resources are kept (global ones are kept too); `None`: nothing to ask.
struct Listing {
    prefix: String,
    names: Vec<String>,
    region: Option<String>,
}

fn listing(scope: &Scope, region: &str) -> Option<Listing> {
    let (prefix, names, region) = match scope {
        // This region's, and the global ones the env shares with every region.
        Scope::Owned(o) => (
            format!("{ROOT}{}/{}/", o.lab, o.env),
            Vec::new(),
            Some(region.to_owned()),
        ),
        // Every region's: `status` and `sweep` place them.
        // This region's and the global ones of each owner's lab (one lab's path when they
        // share it, as a class does).
        Scope::Owners(owners) if owners.is_empty() => return None,
        Scope::Owners(owners) => {
            let labs: std::collections::BTreeSet<&str> =
                owners.iter().map(|o| o.lab.as_str()).collect();
            let prefix = match labs.iter().next() {
                Some(lab) if labs.len() == 1 => format!("{ROOT}{lab}/"),
                _ => ROOT.to_owned(),
            };
            (prefix, Vec::new(), Some(region.to_owned()))
        }
        Scope::AnyLab | Scope::Region => (ROOT.to_owned(), Vec::new(), None),
        // Hand-built ones, by name (awslab's own are found with `Owned`).
        Scope::Named(names) if names.is_empty() => return None,
        Scope::Named(names) => ("/".to_owned(), names.clone(), None),
        Scope::InVpcs(_) => return None,
    };
    Some(Listing {
        prefix,
        names,
        region,
    })
}

impl Listing {
    /// Filtered here too: one emulator ignores `PathPrefix` on some listings.
    fn keeps(&self, path: &str, name: &str) -> bool {
        if !self.names.is_empty() {
            return self.names.iter().any(|n| n == name);
        }
        if !path.starts_with(&self.prefix) {
            return false;
        }
        match (&self.region, tags_from_path(path).get(REGION)) {
            (Some(wanted), Some(region)) => region == wanted,
            _ => true,
        }
    }
}

/// The regions that hold IAM resources of `owner` (global ones aside), from one listing of
/// roles and one of instance profiles.
pub async fn regions_of_owner(aws: &Aws, owner: &Owner) -> Result<BTreeSet<String>, AwsError> {
    let prefix = format!("{ROOT}{}/{}/", owner.lab, owner.env);
    let (roles, profiles) = tokio::try_join!(
        async {
            aws.iam
                .list_roles()
                .path_prefix(&prefix)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| AwsError::from_sdk("iam:ListRoles", "roles", e))
        },
        async {
            aws.iam
                .list_instance_profiles()
                .path_prefix(&prefix)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| AwsError::from_sdk("iam:ListInstanceProfiles", "instance profiles", e))
        }
    )?;
    let paths = roles
        .iter()
        .map(|r| r.path())
        .chain(profiles.iter().map(|p| p.path()));
    Ok(paths
        .filter(|p| p.starts_with(&prefix))
        .filter_map(|p| tags_from_path(p).remove(REGION))
        .collect())
}

/// The owner's resource for `res`: the one made in this region (discovery lists no other
/// region's), else a global one.
fn find_regional_first<'w>(
    world: &'w World,
    owner: &Owner,
    res: &Resource,
) -> Option<&'w Observed> {
    let mut candidates = world.of_kind(res.kind()).filter(|o| {
        owner.owns(&o.tags)
            && o.tags.get(tags::RESOURCE).map(String::as_str) == Some(res.name.as_str())
    });
    let first = candidates.next()?;
    if region_of(first).is_some() {
        return Some(first);
    }
    Some(candidates.find(|o| region_of(o).is_some()).unwrap_or(first))
}

fn iam_tags(owner: &Owner, region: &str, logical: &str) -> Vec<Tag> {
    owner
        .tags_for(logical)
        .into_iter()
        .chain([(REGION.to_owned(), region.to_owned())])
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// The tags an owner's resource made in `region` is observed with.
fn observed_tags(owner: &Owner, region: &str, logical: &str) -> Tags {
    let mut t: Tags = owner.tags_for(logical).into_iter().collect();
    t.insert(REGION.to_owned(), region.to_owned());
    t
}

fn trust_policy(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_carry_the_owner_and_region() {
        let o = Owner::new("efs-shared-storage", "alice");
        assert_eq!(
            iam_name_of(&o, "us-east-1", "ssm-role"),
            format!(
                "awslab-efs-shared-storage-alice-{}-us-east-1-ssm-role",
                o.code()
            )
        );
        // Lab and env that read alike joined by `-` still get names of their own.
        assert_ne!(
            name_of(&Owner::new("a-b", "c"), "web"),
            name_of(&Owner::new("a", "b-c"), "web")
        );
        assert_ne!(
            name_of(&Owner::new("lab", "Alice"), "web"),
            name_of(&Owner::new("lab", "alice"), "web")
        );
        assert_ne!(
            iam_name_of(&o, "us-east-1", "ssm-role"),
            iam_name_of(&o, "eu-west-1", "ssm-role")
        );
        let long = Owner::new("efs-shared-storage", &"x".repeat(40));
        let n = iam_name_of(&long, "ap-southeast-2", "ssm-role");
        assert_eq!(n.len(), 64);
        assert_ne!(n, iam_name_of(&long, "ap-southeast-1", "ssm-role"));
        assert_ne!(n, iam_name_of(&long, "ap-southeast-2", "ssm-rolf"));
        let t = tags_from_path(&path_of(&o, "eu-west-1", "ssm-role"));
        assert!(o.owns(&t));
        assert_eq!(t.get(tags::RESOURCE).map(String::as_str), Some("ssm-role"));
        assert_eq!(t.get(REGION).map(String::as_str), Some("eu-west-1"));
        // A path without a region: the owner's, in no region.
        let global = tags_from_path("/awslab/efs-shared-storage/alice/ssm-role/");
        assert!(o.owns(&global));
        assert_eq!(global.get(REGION), None);
        assert!(tags_from_path("/service-role/").is_empty());
        assert!(tags_from_path("/awslab/a/b/c/d/e/").is_empty());
    }

    #[test]
    fn an_owners_listing_keeps_its_region_and_the_global_ones() {
        let o = Owner::new("lab", "env");
        let l = listing(&Scope::Owned(o.clone()), "eu-west-1").expect("listing");
        assert!(l.keeps(&path_of(&o, "eu-west-1", "r"), "x"));
        assert!(!l.keeps(&path_of(&o, "us-east-1", "r"), "x"));
        assert!(l.keeps("/awslab/lab/env/r/", "x"));
        assert!(!l.keeps("/awslab/lab/env2/r/", "x"));
        let all = listing(&Scope::AnyLab, "eu-west-1").expect("listing");
        assert!(all.keeps(&path_of(&o, "us-east-1", "r"), "x"));
    }
}
